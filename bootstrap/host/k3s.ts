/**
 * k3s server configuration and the remote install/upgrade script.
 *
 * config.yaml keys are k3s server flags (checked against the pinned release's flag list in
 * bootstrap/testdata/k3s-server-flags.txt). The kubelet reservation and eviction thresholds come from
 * cluster.reservation, the numbers the capacity budget (charts-ts/tools/budget.ts) subtracts too.
 */
import { stringify } from 'yaml';
import type { Config } from '../../charts-ts/config/schema.ts';
import { generatedHeader, type HostFile } from './files.ts';

export const k3sPaths = {
  config: '/etc/rancher/k3s/config.yaml',
  kubeconfig: '/etc/rancher/k3s/k3s.yaml',
  psa: '/var/lib/rancher/k3s/server/psa.yaml',
  auditPolicy: '/var/lib/rancher/k3s/server/audit.yaml',
  auditLog: '/var/lib/rancher/k3s/server/logs/audit.log',
} as const;

/** kubelet eviction-hard: memory from the capacity budget, disk from the bootstrap section. */
export function evictionHard(config: Config): string {
  const d = config.cluster.bootstrap.k3s.evictionHardDisk;
  return [
    `memory.available<${config.cluster.reservation.evictionHardMemory}`,
    `nodefs.available<${d.nodefsAvailable}`,
    `imagefs.available<${d.imagefsAvailable}`,
    `nodefs.inodesFree<${d.nodefsInodesFree}`,
  ].join(',');
}

export function k3sConfig(config: Config): Record<string, unknown> {
  const r = config.cluster.reservation;
  const k = config.cluster.bootstrap.k3s;
  const a = k.audit;
  const cfg: Record<string, unknown> = {
    'node-name': config.cluster.node.hostname,
    // The admin kubeconfig is root-only; operators fetch a copy over SSH.
    'write-kubeconfig-mode': '0600',
    // 127.0.0.1 is how operators reach the API (SSH tunnel); it is never published.
    'tls-san': ['127.0.0.1', ...k.tlsSans],
    'secrets-encryption': true,
    'protect-kernel-defaults': true,
    'kube-apiserver-arg': [
      `admission-control-config-file=${k3sPaths.psa}`,
      `audit-policy-file=${k3sPaths.auditPolicy}`,
      `audit-log-path=${k3sPaths.auditLog}`,
      `audit-log-maxage=${a.maxAgeDays}`,
      `audit-log-maxbackup=${a.maxBackups}`,
      `audit-log-maxsize=${a.maxSizeMB}`,
      'service-account-lookup=true',
    ],
    'kube-controller-manager-arg': ['terminated-pod-gc-threshold=100'],
    'kubelet-arg': [
      `system-reserved=cpu=${r.systemReserved.cpu},memory=${r.systemReserved.memory}`,
      `kube-reserved=cpu=${r.kubeReserved.cpu},memory=${r.kubeReserved.memory}`,
      `eviction-hard=${evictionHard(config)}`,
      'streaming-connection-idle-timeout=5m',
      'container-log-max-size=10Mi',
      'container-log-max-files=3',
    ],
  };
  if (k.disable.length) cfg.disable = k.disable;
  return cfg;
}

export const k3sConfigYaml = (config: Config): string =>
  generatedHeader('#', `k3s server configuration for ${config.cluster.node.hostname} (k3s ${config.cluster.k3s.version}).`) + stringify(k3sConfig(config));

export function podSecurityConfig(config: Config): string {
  const k = config.cluster.bootstrap.k3s;
  const level = k.podSecurityDefault;
  return generatedHeader('#', 'Pod Security Admission defaults for namespaces without their own labels.') + stringify({
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'AdmissionConfiguration',
    plugins: [{
      name: 'PodSecurity',
      configuration: {
        apiVersion: 'pod-security.admission.config.k8s.io/v1',
        kind: 'PodSecurityConfiguration',
        defaults: { enforce: level, 'enforce-version': 'latest', audit: 'restricted', 'audit-version': 'latest', warn: 'restricted', 'warn-version': 'latest' },
        exemptions: { usernames: [], runtimeClasses: [], namespaces: k.podSecurityExemptNamespaces },
      },
    }],
  });
}

/**
 * Audit policy: who changed what, without secret payloads. Reads by the control plane and health
 * probes are dropped (volume); Secrets/ConfigMaps/token reviews at Metadata only; RBAC changes with
 * request and response; every other write with the request body; everything else at Metadata.
 */
export const auditPolicy = (): string => generatedHeader('#', 'kube-apiserver audit policy.') + stringify({
  apiVersion: 'audit.k8s.io/v1',
  kind: 'Policy',
  omitStages: ['RequestReceived'],
  rules: [
    { level: 'None', nonResourceURLs: ['/healthz*', '/readyz*', '/livez*', '/version', '/metrics', '/openapi*'] },
    { level: 'None', resources: [{ group: '', resources: ['events'] }, { group: 'events.k8s.io', resources: ['events'] }] },
    { level: 'None', verbs: ['get', 'list', 'watch'], userGroups: ['system:nodes'] },
    { level: 'None', verbs: ['get', 'list', 'watch'], users: ['system:kube-controller-manager', 'system:kube-scheduler', 'system:kube-proxy', 'system:apiserver'] },
    { level: 'None', resources: [{ group: 'coordination.k8s.io', resources: ['leases'] }] },
    {
      level: 'Metadata',
      resources: [
        { group: '', resources: ['secrets', 'configmaps', 'serviceaccounts/token'] },
        { group: 'authentication.k8s.io', resources: ['tokenreviews'] },
        { group: 'authorization.k8s.io', resources: ['subjectaccessreviews', 'selfsubjectaccessreviews'] },
      ],
    },
    { level: 'RequestResponse', verbs: ['create', 'update', 'patch', 'delete', 'deletecollection'], resources: [{ group: 'rbac.authorization.k8s.io' }] },
    { level: 'Request', verbs: ['create', 'update', 'patch', 'delete', 'deletecollection'] },
    { level: 'Metadata' },
  ],
});

export const k3sFiles = (config: Config): HostFile[] => [
  { path: k3sPaths.config, content: k3sConfigYaml(config), permissions: '0600' },
  { path: k3sPaths.psa, content: podSecurityConfig(config), permissions: '0600' },
  { path: k3sPaths.auditPolicy, content: auditPolicy(), permissions: '0600' },
];

const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs on the host as root (ssh ... sudo bash -s). Idempotent: writes each file only when its content
 * differs, installs k3s only when the running version is not the pinned one, restarts only when the
 * configuration changed.
 */
export function k3sInstallScript(config: Config): string {
  const version = config.cluster.k3s.version;
  const files = k3sFiles(config);
  return [
    '#!/usr/bin/env bash',
    generatedHeader('#', `Installs or upgrades k3s ${version} with the generated configuration.`).trimEnd(),
    'set -euo pipefail',
    `K3S_VERSION=${sq(version)}`,
    '# The installer from the same tag as the binary (the tag\'s "+" is URL-encoded).',
    'INSTALLER_URL="https://raw.githubusercontent.com/k3s-io/k3s/${K3S_VERSION/+/%2B}/install.sh"',
    'changed=0',
    '',
    '# write_file PATH MODE BASE64: writes when different; returns 0 if it changed the file.',
    'write_file() {',
    '  local path="$1" mode="$2" content="$3" tmp',
    '  tmp="$(mktemp)"',
    '  printf \'%s\' "$content" | base64 -d > "$tmp"',
    '  if [ -f "$path" ] && cmp -s "$tmp" "$path"; then',
    '    rm -f "$tmp"',
    '    return 1',
    '  fi',
    '  install -D -m "$mode" "$tmp" "$path"',
    '  rm -f "$tmp"',
    '  echo "updated $path"',
    '}',
    '',
    ...files.map((f) => `if write_file ${sq(f.path)} ${f.permissions} ${sq(Buffer.from(f.content).toString('base64'))}; then changed=1; fi`),
    `install -d -m 0700 ${sq(k3sPaths.auditLog.replace(/\/[^/]+$/, ''))}`,
    '',
    'installed="$(k3s --version 2>/dev/null | awk \'NR==1 {print $3}\' || true)"',
    'if [ "$installed" != "$K3S_VERSION" ]; then',
    '  echo "installing k3s $K3S_VERSION (found: ${installed:-none})"',
    '  curl -sfL --retry 3 "$INSTALLER_URL" -o /tmp/k3s-install.sh',
    '  INSTALL_K3S_VERSION="$K3S_VERSION" INSTALL_K3S_EXEC=server sh /tmp/k3s-install.sh',
    '  rm -f /tmp/k3s-install.sh',
    'elif [ "$changed" = 1 ]; then',
    '  echo "configuration changed: restarting k3s"',
    '  systemctl restart k3s',
    'else',
    '  echo "k3s $K3S_VERSION already running with this configuration"',
    'fi',
    'systemctl enable k3s >/dev/null 2>&1',
    '',
  ].join('\n');
}
