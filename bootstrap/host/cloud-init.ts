/**
 * cloud-init user-data for a new (or reinstalled) VPS: the admin user with SSH keys only, every
 * hardening file, and the commands that activate them. k3s is not installed here: the k3s step does
 * that over SSH, so k3s settings can change without reinstalling the host.
 */
import { stringify } from 'yaml';
import type { Config } from '../../charts-ts/config/schema.ts';
import { fail2banFiles } from './fail2ban.ts';
import { generatedHeader, type HostFile } from './files.ts';
import { firewallCheckPath, firewallFiles } from './firewall.ts';
import { sshdFile } from './sshd.ts';
import { journaldFiles, sysctlFiles, upgradeFiles } from './system.ts';

/**
 * The OS images the bootstrap supports (bootstrap.contabo.imageName): Debian 12/13 start sshd as
 * ssh.service; Ubuntu 24.04 starts it by socket activation (ssh.socket), so /run/sshd does not exist
 * until the first connection, and sshd -t refuses to check a configuration without it.
 */
export { supportedImages } from '../../charts-ts/config/sections/bootstrap.ts';

export const firstBootPath = '/usr/local/sbin/lms-first-boot';

/** sshd's privilege separation directory; sshd -t fails without it ("Missing privilege separation directory"). */
export const sshdPrivsepCommand = 'install -d -m 0755 /run/sshd';

/**
 * The first-boot sequence runcmd runs, as one bash script with `set -euo pipefail`: the first failing
 * command stops it, cloud-init reports the boot as failed (`cloud-init status` = error) and the k3s
 * step, which waits for `status: done` and checks the firewall itself, installs nothing. (runcmd
 * entries run as one /bin/sh script without -e, where only the last command's status counts.)
 * LMS_FIRST_BOOT_PATH replaces PATH (the tests run it against stand-in commands).
 */
export const firstBootScript = (): string => [
  '#!/usr/bin/env bash',
  generatedHeader('#', 'First boot: activates the hardening files cloud-init wrote; stops at the first failure.').trimEnd(),
  'set -euo pipefail',
  'export PATH="${LMS_FIRST_BOOT_PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}"',
  'step() { echo "lms-first-boot: $*"; }',
  'trap \'echo "lms-first-boot: FAILED at line $LINENO (exit $?): the host is not ready for k3s" >&2\' ERR',
  '',
  'step "sshd drop-ins of the image removed (ours replaces sshd_config whole)"',
  'rm -f /etc/ssh/sshd_config.d/*.conf',
  'step "kernel parameters"',
  'sysctl --system >/dev/null',
  'systemctl restart systemd-journald',
  'step "firewall"',
  'lms-firewall',
  `${firewallCheckPath.split('/').pop()}`,
  'step "fail2ban, reboot window, unattended upgrades"',
  'systemctl daemon-reload',
  'systemctl enable --now fail2ban',
  'systemctl restart fail2ban',
  'systemctl enable --now lms-reboot-window.timer',
  'systemctl enable --now unattended-upgrades',
  'step "sshd: validate, then restart"',
  '# Ubuntu 24.04 socket-activates sshd: /run/sshd may not exist yet, and sshd -t insists on it.',
  sshdPrivsepCommand,
  '# Validate before restarting: a broken sshd_config must not lock the operators out.',
  'sshd -t',
  '# Ubuntu 24.04: ssh.socket listens (its generator reads sshd_config on daemon-reload); Debian: ssh.service.',
  'if systemctl is-enabled --quiet ssh.socket 2>/dev/null; then systemctl restart ssh.socket; fi',
  'systemctl restart ssh.service',
  'step "done"',
  '',
].join('\n');

/** Everything cloud-init writes, in order (also what `render` prints and the tests check). */
export const hostFiles = (config: Config): HostFile[] => [
  sshdFile(config),
  ...firewallFiles(config),
  ...fail2banFiles(config),
  ...sysctlFiles(),
  ...journaldFiles(config),
  ...upgradeFiles(config),
  { path: firstBootPath, content: firstBootScript(), permissions: '0750', shell: true },
];

export const hostPackages = [
  'ufw', 'fail2ban', 'python3-systemd', 'unattended-upgrades', 'chrony', 'curl', 'ca-certificates', 'apparmor', 'auditd',
];

/** runcmd: the first-boot script alone, so its exit status is the boot's (see firstBootScript). */
export const runcmd = (): string[][] => [[firstBootPath]];

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
    runcmd: runcmd(),
    final_message: 'LMS host bootstrap finished after $UPTIME s; next: npm run bootstrap -- k3s',
  };
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}
