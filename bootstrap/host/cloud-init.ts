/**
 * cloud-init user-data for a new (or reinstalled) VPS: the admin user with SSH keys only, every
 * hardening file, and the commands that activate them. k3s is not installed here: the k3s step does
 * that over SSH, so k3s settings can change without reinstalling the host.
 */
import { stringify } from 'yaml';
import type { Config } from '../../charts-ts/config/schema.ts';
import { fail2banFiles } from './fail2ban.ts';
import type { HostFile } from './files.ts';
import { firewallFiles } from './firewall.ts';
import { sshdFile } from './sshd.ts';
import { journaldFiles, sysctlFiles, upgradeFiles } from './system.ts';

/** Everything cloud-init writes, in order (also what `render` prints and the tests check). */
export const hostFiles = (config: Config): HostFile[] => [
  sshdFile(config),
  ...firewallFiles(config),
  ...fail2banFiles(config),
  ...sysctlFiles(),
  ...journaldFiles(config),
  ...upgradeFiles(config),
];

export const hostPackages = [
  'ufw', 'fail2ban', 'python3-systemd', 'unattended-upgrades', 'chrony', 'curl', 'ca-certificates', 'apparmor', 'auditd',
];

/** The shell commands of runcmd; each line also passes shellcheck (tests). */
export const activationCommands = (): string[] => [
  // Remove what the image ships that would run next to ours.
  'rm -f /etc/ssh/sshd_config.d/*.conf',
  'sysctl --system >/dev/null',
  'systemctl restart systemd-journald',
  '/usr/local/sbin/lms-firewall',
  'systemctl enable --now fail2ban',
  'systemctl restart fail2ban',
  'systemctl daemon-reload',
  'systemctl enable --now lms-reboot-window.timer',
  'systemctl enable --now unattended-upgrades',
  // Validate before restarting: a broken sshd_config must not lock the operators out.
  'sshd -t && systemctl restart ssh',
];

export function userData(config: Config): string {
  const b = config.cluster.bootstrap;
  const doc = {
    hostname: config.cluster.node.hostname,
    preserve_hostname: false,
    timezone: b.timeSync.timezone,
    users: [{
      name: b.admin.user,
      gecos: 'LMS operator',
      groups: ['sudo'],
      shell: '/bin/bash',
      // Key-only account: no password exists, sudo without one.
      lock_passwd: true,
      sudo: 'ALL=(ALL) NOPASSWD:ALL',
      ssh_authorized_keys: b.admin.sshPublicKeys,
    }],
    disable_root: true,
    ssh_pwauth: false,
    ssh_deletekeys: true,
    ssh_genkeytypes: ['ed25519', 'rsa'],
    package_update: true,
    package_upgrade: true,
    package_reboot_if_required: false,
    packages: hostPackages,
    ntp: { enabled: true, ntp_client: 'chrony', pools: b.timeSync.ntpPools },
    // Deferred: written after the packages are installed, so package defaults cannot overwrite them.
    write_files: hostFiles(config).map((f) => ({ path: f.path, content: f.content, permissions: f.permissions, owner: 'root:root', defer: true })),
    runcmd: activationCommands().map((c) => ['sh', '-c', c]),
    final_message: 'LMS host bootstrap finished after $UPTIME s; next: npm run bootstrap -- k3s',
  };
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}
