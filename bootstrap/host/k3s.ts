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
import { firewallCheckScript, firewallModel } from './firewall.ts';

export const k3sPaths = {
  config: '/etc/rancher/k3s/config.yaml',
  kubeconfig: '/etc/rancher/k3s/k3s.yaml',
  /** The API server's AdmissionConfiguration (PodSecurity defaults, EventRateLimit); k3s's guide names it psa.yaml. */
  psa: '/var/lib/rancher/k3s/server/psa.yaml',
  eventRateLimit: '/var/lib/rancher/k3s/server/event-rate-limit.yaml',
  auditPolicy: '/var/lib/rancher/k3s/server/audit.yaml',
  auditLog: '/var/lib/rancher/k3s/server/logs/audit.log',
} as const;

/**
 * The only TLS cipher suites the kubelet offers (CIS 4.2.12; the list of the k3s CIS hardening guide):
 * ECDHE key exchange with AEAD ciphers. TLS 1.3 suites are not configurable in Go and are all strong.
 */
export const kubeletTlsCipherSuites = [
  'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305',
  'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305',
] as const;

/**
 * The cluster is IPv4 single-stack: k3s runs with its default IPv4 pod and service networks (no
 * cluster-cidr/service-cidr with an IPv6 range), so ServiceLB publishes Traefik's 80/443 on the node's
 * IPv4 address only. Anything that points clients at the node's IPv6 address (an AAAA record) would
 * reach nothing: Cloudflare answers 521. The cloudflare step creates AAAA records only when this
 * lists IPv6 (docs/security/hardening.md, "IPv4 only").
 */
export const clusterIpFamilies: readonly ('IPv4' | 'IPv6')[] = ['IPv4'];

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
      // NodeRestriction is k3s's default; EventRateLimit (CIS 1.2.9) takes its limits from the
      // AdmissionConfiguration below. PodSecurity and ValidatingAdmissionPolicy are on by default.
      'enable-admission-plugins=NodeRestriction,EventRateLimit',
      `admission-control-config-file=${k3sPaths.psa}`,
      `audit-policy-file=${k3sPaths.auditPolicy}`,
      `audit-log-path=${k3sPaths.auditLog}`,
      `audit-log-maxage=${a.maxAgeDays}`,
      `audit-log-maxbackup=${a.maxBackups}`,
      `audit-log-maxsize=${a.maxSizeMB}`,
      'service-account-lookup=true',
      // Tokens live as long as they say (CIS 1.2.x in the k3s guide): no one-year extension of
      // projected tokens for clients that do not refresh them.
      'service-account-extend-token-expiration=false',
    ],
    'kube-controller-manager-arg': ['terminated-pod-gc-threshold=100'],
    'kubelet-arg': [
      `system-reserved=cpu=${r.systemReserved.cpu},memory=${r.systemReserved.memory}`,
      `kube-reserved=cpu=${r.kubeReserved.cpu},memory=${r.kubeReserved.memory}`,
      `eviction-hard=${evictionHard(config)}`,
      'streaming-connection-idle-timeout=5m',
      'container-log-max-size=10Mi',
      'container-log-max-files=3',
      `tls-cipher-suites=${kubeletTlsCipherSuites.join(',')}`,
    ],
  };
  if (k.disable.length) cfg.disable = k.disable;
  return cfg;
}

export const k3sConfigYaml = (config: Config): string =>
  generatedHeader('#', `k3s server configuration for ${config.cluster.node.hostname} (k3s ${config.cluster.k3s.version}).`) + stringify(k3sConfig(config));

/**
 * EventRateLimit (CIS 1.2.9): a client that floods the API server with Events (a crash-looping
 * controller, a misbehaving operator) gets 429s instead of filling kine/SQLite. Per namespace and per
 * user, with a server-wide cap well above what the whole node produces (a few events a second).
 */
export const eventRateLimits = [
  { type: 'Server', qps: 100, burst: 400 },
  { type: 'Namespace', qps: 20, burst: 100, cacheSize: 2000 },
  { type: 'User', qps: 20, burst: 100, cacheSize: 2000 },
] as const;

export const eventRateLimitConfig = (): string => generatedHeader('#', 'EventRateLimit admission plugin limits (referenced from psa.yaml).') + stringify({
  apiVersion: 'eventratelimit.admission.k8s.io/v1alpha1',
  kind: 'Configuration',
  limits: eventRateLimits,
});

/**
 * The API server's AdmissionConfiguration (psa.yaml): Pod Security defaults for namespaces without
 * their own labels, and the EventRateLimit plugin's configuration file (`eventRateLimitPath`: the host
 * path; the cluster tests pass their run directory's copy).
 */
export function podSecurityConfig(config: Config, eventRateLimitPath: string = k3sPaths.eventRateLimit): string {
  const k = config.cluster.bootstrap.k3s;
  const level = k.podSecurityDefault;
  return generatedHeader('#', 'Admission plugin configuration: Pod Security defaults for unlabelled namespaces, EventRateLimit.') + stringify({
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
    }, {
      name: 'EventRateLimit',
      path: eventRateLimitPath,
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
  { path: k3sPaths.eventRateLimit, content: eventRateLimitConfig(), permissions: '0600' },
  { path: k3sPaths.auditPolicy, content: auditPolicy(), permissions: '0600' },
];

const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs on the host as root (ssh ... sudo bash -s). Refuses to change anything unless the host
 * firewall is verifiably active (the embedded lms-firewall-check: UFW rules and guard chains as the
 * kernel reports them), so k3s never starts on an open host. Idempotent: writes each file only when
 * its content differs, installs k3s only when the running version is not the pinned one (and only with
 * the installer whose sha256 is pinned in cluster.k3s.installScript), restarts only when the
 * configuration changed.
 */
export function k3sInstallScript(config: Config): string {
  const version = config.cluster.k3s.version;
  const files = k3sFiles(config);
  const check = firewallCheckScript(firewallModel(config));
  return [
    '#!/usr/bin/env bash',
    generatedHeader('#', `Installs or upgrades k3s ${version} with the generated configuration.`).trimEnd(),
    'set -euo pipefail',
    `K3S_VERSION=${sq(version)}`,
    '# The installer from the same tag as the binary (the tag\'s "+" is URL-encoded), checked against',
    '# the pinned sha256 (k3s publishes it as install.sh.sha256sum at the tag).',
    'INSTALLER_URL="https://raw.githubusercontent.com/k3s-io/k3s/${K3S_VERSION/+/%2B}/install.sh"',
    `INSTALLER_SHA256=${sq(config.cluster.k3s.installScript?.sha256 ?? '')}`,
    'changed=0',
    '',
    '# No k3s on a host whose firewall is not in force (first boot failed, UFW disabled, guard gone).',
    'fw_check="$(mktemp)"',
    'cat > "$fw_check" <<\'LMS_FIREWALL_CHECK\'',
    check.trimEnd(),
    'LMS_FIREWALL_CHECK',
    'if ! bash "$fw_check"; then',
    '  rm -f "$fw_check"',
    '  echo "k3s: refusing to install or restart k3s: the host firewall is not verifiably active (see above); run sudo /usr/local/sbin/lms-firewall, then this step again" >&2',
    '  exit 1',
    'fi',
    'rm -f "$fw_check"',
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
    '# run_installer: downloads install.sh, runs it only if its sha256 is the pinned one.',
    'run_installer() {',
    '  if [ -z "$INSTALLER_SHA256" ]; then',
    '    echo "k3s: refusing to run an unpinned installer: set cluster.k3s.installScript to the sha256 of install.sh at $K3S_VERSION (docs/runbooks/upgrade-k3s.md)" >&2',
    '    return 1',
    '  fi',
    '  local script',
    '  script="$(mktemp)"',
    '  curl -sfL --retry 3 "$INSTALLER_URL" -o "$script"',
    '  if ! echo "$INSTALLER_SHA256  $script" | sha256sum --check --status; then',
    '    echo "k3s: install.sh from $INSTALLER_URL has sha256 $(sha256sum "$script" | cut -d " " -f 1), not the pinned $INSTALLER_SHA256: not running it" >&2',
    '    rm -f "$script"',
    '    return 1',
    '  fi',
    '  INSTALL_K3S_VERSION="$K3S_VERSION" INSTALL_K3S_EXEC=server sh "$script"',
    '  rm -f "$script"',
    '}',
    '',
    ...files.map((f) => `if write_file ${sq(f.path)} ${f.permissions} ${sq(Buffer.from(f.content).toString('base64'))}; then changed=1; fi`),
    `install -d -m 0700 ${sq(k3sPaths.auditLog.replace(/\/[^/]+$/, ''))}`,
    '',
    'installed="$(k3s --version 2>/dev/null | awk \'NR==1 {print $3}\' || true)"',
    'if [ "$installed" != "$K3S_VERSION" ]; then',
    '  echo "installing k3s $K3S_VERSION (found: ${installed:-none})"',
    '  run_installer',
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
