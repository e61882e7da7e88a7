/**
 * Kernel parameters, journald limits, unattended upgrades and the reboot window.
 */
import type { Config } from '../../charts-ts/config/schema.ts';
import { generatedHeader, type HostFile } from './files.ts';

/**
 * The values the kubelet checks when k3s runs with protect-kernel-defaults (it refuses to start when
 * they differ): kubelet's pkg/kubelet/cm/container_manager_linux.go setupKernelTunables, and the k3s
 * CIS hardening guide (https://docs.k3s.io/security/hardening-guide#ensure-protect-kernel-defaults-is-set).
 */
export const kubeletKernelDefaults: Record<string, string> = {
  'vm.overcommit_memory': '1',
  'vm.panic_on_oom': '0',
  'kernel.panic': '10',
  'kernel.panic_on_oops': '1',
  'kernel.keys.root_maxkeys': '1000000',
  'kernel.keys.root_maxbytes': '25000000',
};

/** Host hardening that does not conflict with k3s (forwarding stays on: pods route through the host). */
export const hardeningSysctls: Record<string, string> = {
  'net.ipv4.ip_forward': '1',
  'net.ipv6.conf.all.forwarding': '1',
  'net.ipv4.conf.all.accept_redirects': '0',
  'net.ipv4.conf.default.accept_redirects': '0',
  'net.ipv6.conf.all.accept_redirects': '0',
  'net.ipv6.conf.default.accept_redirects': '0',
  'net.ipv4.conf.all.send_redirects': '0',
  'net.ipv4.conf.default.send_redirects': '0',
  'net.ipv4.conf.all.accept_source_route': '0',
  'net.ipv6.conf.all.accept_source_route': '0',
  'net.ipv4.conf.all.log_martians': '1',
  'net.ipv4.icmp_echo_ignore_broadcasts': '1',
  'net.ipv4.tcp_syncookies': '1',
  'kernel.kptr_restrict': '2',
  'kernel.dmesg_restrict': '1',
  'kernel.unprivileged_bpf_disabled': '1',
  'net.core.bpf_jit_harden': '2',
  'kernel.yama.ptrace_scope': '1',
  'fs.protected_hardlinks': '1',
  'fs.protected_symlinks': '1',
  'fs.suid_dumpable': '0',
  // Many pods watch files (Prometheus, Alloy, Node): the defaults (128 instances) run out.
  'fs.inotify.max_user_instances': '8192',
  'fs.inotify.max_user_watches': '1048576',
};

const sysctlFile = (what: string, values: Record<string, string>): string =>
  generatedHeader('#', what) + Object.entries(values).map(([k, v]) => `${k} = ${v}`).join('\n') + '\n';

export const sysctlFiles = (): HostFile[] => [
  { path: '/etc/sysctl.d/90-lms-kubelet.conf', content: sysctlFile('Kernel values kubelet requires with protect-kernel-defaults.', kubeletKernelDefaults), permissions: '0644' },
  { path: '/etc/sysctl.d/91-lms-hardening.conf', content: sysctlFile('Kernel and network hardening compatible with k3s.', hardeningSysctls), permissions: '0644' },
];

export function journaldConf(config: Config): string {
  const j = config.cluster.bootstrap.journald;
  return generatedHeader('#', 'journald limits: bounded disk use, persistent across reboots.') + [
    '[Journal]',
    'Storage=persistent',
    'Compress=yes',
    `SystemMaxUse=${j.systemMaxUse}`,
    'SystemKeepFree=5G',
    `MaxRetentionSec=${j.maxRetention}`,
    'RateLimitIntervalSec=30s',
    'RateLimitBurst=10000',
    '',
  ].join('\n');
}

/** apt periodic settings: refresh lists and install security updates every day. */
export const autoUpgradesConf = (): string => generatedHeader('//', 'apt periodic: daily list refresh and unattended upgrades.') + [
  'APT::Periodic::Update-Package-Lists "1";',
  'APT::Periodic::Download-Upgradeable-Packages "1";',
  'APT::Periodic::Unattended-Upgrade "1";',
  'APT::Periodic::AutocleanInterval "7";',
  '',
].join('\n');

/**
 * unattended-upgrades: security pockets only, no automatic reboot (the reboot window timer below
 * decides when). Packages whose restart would interrupt the cluster outside the window are held.
 */
export const unattendedUpgradesConf = (): string => generatedHeader('//', 'unattended-upgrades policy for the LMS host.') + [
  'Unattended-Upgrade::Allowed-Origins {',
  '  "${distro_id}:${distro_codename}";',
  '  "${distro_id}:${distro_codename}-security";',
  '  "${distro_id}ESMApps:${distro_codename}-apps-security";',
  '  "${distro_id}ESM:${distro_codename}-infra-security";',
  '};',
  'Unattended-Upgrade::Remove-Unused-Kernel-Packages "true";',
  'Unattended-Upgrade::Remove-Unused-Dependencies "true";',
  'Unattended-Upgrade::Automatic-Reboot "false";',
  'Unattended-Upgrade::SyslogEnable "true";',
  '',
].join('\n');

const rebootScript = (): string => [
  '#!/usr/bin/env bash',
  generatedHeader('#', 'Reboots the host in the maintenance window if an update requires it.').trimEnd(),
  'set -euo pipefail',
  'FLAG="${REBOOT_REQUIRED_FILE:-/var/run/reboot-required}"',
  'if [ ! -e "$FLAG" ]; then',
  '  echo "lms-reboot-window: no reboot required"',
  '  exit 0',
  'fi',
  'pkgs="$(tr "\\n" " " < "${FLAG}.pkgs" 2>/dev/null || true)"',
  'logger -t lms-reboot-window "rebooting for: ${pkgs:-unknown packages}"',
  'exec systemctl reboot',
  '',
].join('\n');

/** systemd OnCalendar for the window, e.g. "Sun *-*-* 03:30:00". */
export const rebootOnCalendar = (config: Config): string => {
  const u = config.cluster.bootstrap.upgrades;
  return `${u.rebootDays.join(',')} *-*-* ${u.rebootTime}:00`;
};

export function upgradeFiles(config: Config): HostFile[] {
  return [
    { path: '/etc/apt/apt.conf.d/20auto-upgrades', content: autoUpgradesConf(), permissions: '0644' },
    { path: '/etc/apt/apt.conf.d/52lms-unattended-upgrades', content: unattendedUpgradesConf(), permissions: '0644' },
    { path: '/usr/local/sbin/lms-reboot-if-required', content: rebootScript(), permissions: '0755', shell: true },
    {
      path: '/etc/systemd/system/lms-reboot-window.service',
      permissions: '0644',
      content: generatedHeader('#', 'Reboot if required (run by lms-reboot-window.timer).') + [
        '[Unit]',
        'Description=Reboot in the maintenance window if an update requires it',
        'After=apt-daily-upgrade.service',
        '',
        '[Service]',
        'Type=oneshot',
        'ExecStart=/usr/local/sbin/lms-reboot-if-required',
        '',
      ].join('\n'),
    },
    {
      path: '/etc/systemd/system/lms-reboot-window.timer',
      permissions: '0644',
      content: generatedHeader('#', 'The maintenance window (bootstrap.upgrades.rebootDays/rebootTime).') + [
        '[Unit]',
        'Description=Maintenance window for reboots after unattended upgrades',
        '',
        '[Timer]',
        `OnCalendar=${rebootOnCalendar(config)}`,
        // No catch-up: a missed window waits for the next one instead of rebooting at boot time.
        'Persistent=false',
        'AccuracySec=1min',
        '',
        '[Install]',
        'WantedBy=timers.target',
        '',
      ].join('\n'),
    },
  ];
}

export const journaldFiles = (config: Config): HostFile[] => [
  { path: '/etc/systemd/journald.conf.d/90-lms.conf', content: journaldConf(config), permissions: '0644' },
];
