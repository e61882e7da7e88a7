/**
 * sshd_config: keys only, one named admin account, modern algorithms only. It replaces the
 * distribution's file (no Include of sshd_config.d), so cloud-init or package drop-ins cannot weaken it.
 * Algorithms are those OpenSSH 9.2 (Debian 12, the test tool) and 9.6 (Ubuntu 24.04, the host) share.
 */
import type { Config } from '../../charts-ts/config/schema.ts';
import { generatedHeader, type HostFile } from './files.ts';

export const sshAlgorithms = {
  kex: ['sntrup761x25519-sha512@openssh.com', 'curve25519-sha256', 'curve25519-sha256@libssh.org'],
  ciphers: ['chacha20-poly1305@openssh.com', 'aes256-gcm@openssh.com', 'aes128-gcm@openssh.com'],
  macs: ['hmac-sha2-512-etm@openssh.com', 'hmac-sha2-256-etm@openssh.com'],
  hostKeys: ['ssh-ed25519', 'rsa-sha2-512', 'rsa-sha2-256'],
  pubkeys: ['ssh-ed25519', 'sk-ssh-ed25519@openssh.com', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'sk-ecdsa-sha2-nistp256@openssh.com', 'rsa-sha2-512', 'rsa-sha2-256'],
} as const;

export interface SshdOptions {
  /** Where the host keys live; tests point it at a temporary directory. */
  hostKeyDir?: string;
  port?: number;
}

export function sshdConfig(config: Config, opts: SshdOptions = {}): string {
  const b = config.cluster.bootstrap;
  const keyDir = opts.hostKeyDir ?? '/etc/ssh';
  const lines = [
    generatedHeader('#', 'OpenSSH server configuration (hardened).').trimEnd(),
    `Port ${opts.port ?? 22}`,
    'AddressFamily any',
    `HostKey ${keyDir}/ssh_host_ed25519_key`,
    `HostKey ${keyDir}/ssh_host_rsa_key`,
    '',
    '# Algorithms: no SHA-1, no CBC, no NIST-curve key exchange.',
    `KexAlgorithms ${sshAlgorithms.kex.join(',')}`,
    `Ciphers ${sshAlgorithms.ciphers.join(',')}`,
    `MACs ${sshAlgorithms.macs.join(',')}`,
    `HostKeyAlgorithms ${sshAlgorithms.hostKeys.join(',')}`,
    `PubkeyAcceptedAlgorithms ${sshAlgorithms.pubkeys.join(',')}`,
    'RequiredRSASize 3072',
    '',
    '# Authentication: public keys only, one account, no root.',
    'PermitRootLogin no',
    'PubkeyAuthentication yes',
    'AuthenticationMethods publickey',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitEmptyPasswords no',
    'HostbasedAuthentication no',
    'IgnoreRhosts yes',
    'UsePAM yes',
    `AllowUsers ${b.admin.user}`,
    `MaxAuthTries ${b.ssh.maxAuthTries}`,
    `LoginGraceTime ${b.ssh.loginGraceSeconds}`,
    'MaxStartups 10:30:60',
    'MaxSessions 4',
    'StrictModes yes',
    'PermitUserEnvironment no',
    '',
    '# Sessions: idle clients are dropped; only local forwarding (the kube-apiserver tunnel).',
    'ClientAliveInterval 300',
    'ClientAliveCountMax 2',
    'AllowTcpForwarding local',
    'AllowAgentForwarding no',
    'AllowStreamLocalForwarding no',
    'GatewayPorts no',
    'PermitTunnel no',
    'X11Forwarding no',
    'PrintMotd no',
    '',
    '# VERBOSE logs the key fingerprint of each login (audit trail; fail2ban reads the failures).',
    'LogLevel VERBOSE',
    'SyslogFacility AUTH',
    'Subsystem sftp internal-sftp',
    '',
  ];
  return lines.join('\n');
}

export const sshdFile = (config: Config): HostFile => ({ path: '/etc/ssh/sshd_config', content: sshdConfig(config), permissions: '0600' });
