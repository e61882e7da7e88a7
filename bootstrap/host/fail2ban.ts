/**
 * fail2ban: an sshd jail (aggressive mode: invalid users, failed keys, pre-auth disconnects) and a
 * recidive jail that bans repeat offenders from every port. Bans go through UFW so they show in
 * `ufw status` and survive the firewall script being re-applied.
 */
import type { Config } from '../../charts-ts/config/schema.ts';
import { generatedHeader, type HostFile } from './files.ts';

export function fail2banJail(config: Config): string {
  const b = config.cluster.bootstrap;
  const { sshd, recidive } = b.fail2ban;
  const ignore = ['127.0.0.1/8', '::1', ...b.admin.sshCidrs].join(' ');
  return [
    generatedHeader('#', 'fail2ban jails for the LMS host.').trimEnd(),
    '[DEFAULT]',
    '# Never ban loopback or the admin networks (a typo must not lock the operators out).',
    `ignoreip = ${ignore}`,
    'banaction = ufw',
    'banaction_allports = ufw',
    '',
    '[sshd]',
    'enabled = true',
    '# aggressive: also counts invalid users, failed public keys and pre-auth disconnects.',
    'mode = aggressive',
    'port = ssh',
    '# Ubuntu 24.04: sshd logs to the journal.',
    'backend = systemd',
    `maxretry = ${sshd.maxRetry}`,
    `findtime = ${sshd.findTime}`,
    `bantime = ${sshd.banTime}`,
    '',
    '[recidive]',
    'enabled = true',
    'logpath = /var/log/fail2ban.log',
    'backend = auto',
    'banaction = %(banaction_allports)s',
    `maxretry = ${recidive.maxRetry}`,
    `findtime = ${recidive.findTime}`,
    `bantime = ${recidive.banTime}`,
    '',
  ].join('\n');
}

export const fail2banFiles = (config: Config): HostFile[] => [
  { path: '/etc/fail2ban/jail.d/lms.local', content: fail2banJail(config), permissions: '0644' },
];
