/**
 * The host firewall, from one rule model rendered two ways:
 *
 * 1. UFW (INPUT, the host's own sockets): default deny incoming; SSH from the admin networks (or from
 *    anywhere, rate-limited); 80/443 from Cloudflare's ranges (or anywhere); everything from the k3s
 *    pod/service networks (pods reach the API server, kubelet and node-exporter on the host).
 * 2. A pre-routing guard (mangle PREROUTING, new connections on the public interface only), installed
 *    as UFW's before.init hook. Kubernetes publishes Services by DNAT (ServiceLB hostPorts for 80/443,
 *    kube-proxy NodePorts): DNATed packets are forwarded to pods and never traverse INPUT, so UFW alone
 *    cannot stop them. The guard drops NodePorts from the internet and 80/443 from non-Cloudflare
 *    sources before any DNAT happens.
 *
 * The API server (6443), kubelet (10250), PostgreSQL (5432), Redis (6379) and node-exporter (9100)
 * are therefore unreachable from outside; the firewall test proves it in network namespaces.
 */
import { createHash } from 'node:crypto';
import type { Config } from '../../charts-ts/config/schema.ts';
import { generatedHeader, type HostFile } from './files.ts';

export interface InboundRule {
  ports: number[];
  /** Source networks; "any" means the whole internet. */
  sources: string[] | 'any';
  /** UFW `limit` (6 new connections in 30 s per source) instead of `allow`. */
  limit: boolean;
  comment: string;
}

export interface FirewallModel {
  publicInterface: string;
  inbound: InboundRule[];
  clusterCidrs: string[];
  /** Ports no new connection from the internet may reach even through DNAT. */
  guardedPortRanges: string[];
  /** 80/443 sources allowed through DNAT; undefined = anywhere. */
  webSources?: { v4: string[]; v6: string[] };
}

export const nodePortRange = '30000:32767';
export const webPorts = [80, 443];

export function firewallModel(config: Config): FirewallModel {
  const b = config.cluster.bootstrap;
  const cf = config.cluster.cloudflare;
  const web = b.firewall.webFromCloudflareOnly ? { v4: cf.ipv4, v6: cf.ipv6 } : undefined;
  return {
    publicInterface: b.firewall.publicInterface,
    inbound: [
      b.admin.sshCidrs.length
        ? { ports: [22], sources: b.admin.sshCidrs, limit: false, comment: 'ssh from admin networks' }
        : { ports: [22], sources: 'any', limit: true, comment: 'ssh (rate-limited; fail2ban)' },
      { ports: webPorts, sources: web ? [...web.v4, ...web.v6] : 'any', limit: false, comment: web ? 'web from Cloudflare' : 'web' },
    ],
    clusterCidrs: b.firewall.clusterCidrs,
    guardedPortRanges: [nodePortRange],
    webSources: web,
  };
}

const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** UFW commands for the model (order matters only for readability: UFW sorts nothing). */
export function ufwCommands(m: FirewallModel): string[] {
  const cmds = [
    'ufw --force default deny incoming',
    'ufw --force default allow outgoing',
    'ufw --force default deny routed',
  ];
  for (const r of m.inbound) {
    const verb = r.limit ? 'limit' : 'allow';
    const port = r.ports.join(',');
    for (const src of r.sources === 'any' ? ['any'] : r.sources) {
      cmds.push(`ufw ${verb} in on ${m.publicInterface} proto tcp from ${src} to any port ${port} comment ${sq(r.comment)}`);
    }
  }
  for (const c of m.clusterCidrs) {
    cmds.push(`ufw allow in from ${c} comment ${sq('k3s cluster network')}`);
    cmds.push(`ufw route allow from ${c} comment ${sq('k3s cluster network')}`);
    cmds.push(`ufw route allow to ${c} comment ${sq('k3s cluster network')}`);
  }
  cmds.push('ufw logging low');
  return cmds;
}

/** UFW's before.init hook: installs/removes the pre-routing guard with UFW's start/stop. */
export function guardScript(m: FirewallModel): string {
  const lines: string[] = [
    '#!/bin/sh',
    generatedHeader('#', 'UFW before.init: pre-routing guard for DNATed Kubernetes ports (see bootstrap/host/firewall.ts).').trimEnd(),
    'set -eu',
    `IFACE=${sq(m.publicInterface)}`,
    'CHAIN=LMS-GUARD',
    '',
    'guard_stop() {',
    '  for ipt in iptables ip6tables; do',
    '    while "$ipt" -w -t mangle -D PREROUTING -i "$IFACE" -m conntrack --ctstate NEW -j "$CHAIN" 2>/dev/null; do :; done',
    '    "$ipt" -w -t mangle -F "$CHAIN" 2>/dev/null || true',
    '    "$ipt" -w -t mangle -X "$CHAIN" 2>/dev/null || true',
    '  done',
    '}',
    '',
    'guard_start() {',
    '  guard_stop',
    '  for ipt in iptables ip6tables; do',
    '    "$ipt" -w -t mangle -N "$CHAIN"',
  ];
  for (const range of m.guardedPortRanges) {
    lines.push(`    "$ipt" -w -t mangle -A "$CHAIN" -p tcp --dport ${range} -j DROP`);
    lines.push(`    "$ipt" -w -t mangle -A "$CHAIN" -p udp --dport ${range} -j DROP`);
  }
  lines.push('  done');
  if (m.webSources) {
    const ports = webPorts.join(',');
    for (const [ipt, list] of [['iptables', m.webSources.v4], ['ip6tables', m.webSources.v6]] as const) {
      for (const src of list) lines.push(`  ${ipt} -w -t mangle -A "$CHAIN" -p tcp -m multiport --dports ${ports} -s ${src} -j RETURN`);
      lines.push(`  ${ipt} -w -t mangle -A "$CHAIN" -p tcp -m multiport --dports ${ports} -j DROP`);
    }
  }
  lines.push(
    '  for ipt in iptables ip6tables; do',
    '    "$ipt" -w -t mangle -I PREROUTING 1 -i "$IFACE" -m conntrack --ctstate NEW -j "$CHAIN"',
    '  done',
    '}',
    '',
    'case "${1:-}" in',
    '  start) guard_start ;;',
    '  stop|flush-all) guard_stop ;;',
    '  status) iptables -w -t mangle -S "$CHAIN" 2>/dev/null || echo "$CHAIN not installed" ;;',
    '  *) echo "usage: $0 start|stop|status|flush-all" >&2; exit 1 ;;',
    'esac',
    '',
  );
  return lines.join('\n');
}

/**
 * The script that applies the model (/usr/local/sbin/lms-firewall). Idempotent: when the rule set is
 * unchanged it only re-installs the guard and reloads; when it changed it resets UFW first so removed
 * rules disappear too (a reset opens the firewall for about a second).
 */
export function firewallScript(m: FirewallModel): string {
  const cmds = ufwCommands(m);
  const guard = guardScript(m);
  const hash = createHash('sha256').update(JSON.stringify({ cmds, guard })).digest('hex');
  return [
    '#!/usr/bin/env bash',
    generatedHeader('#', 'Applies the host firewall (UFW + pre-routing guard).').trimEnd(),
    'set -euo pipefail',
    '# The UFW configuration directory (tests run UFW with --rootdir and point this at the copy).',
    'UFW_ETC="${UFW_ETC:-/etc/ufw}"',
    'STAMP="$UFW_ETC/lms-firewall.sha256"',
    `RULESET=${hash}`,
    '',
    'if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$RULESET" ]; then',
    '  echo "lms-firewall: applying rule set $RULESET"',
    '  ufw --force reset >/dev/null',
    ...cmds.map((c) => `  ${c} >/dev/null`),
    '  echo "$RULESET" > "$STAMP"',
    'else',
    '  echo "lms-firewall: rule set $RULESET already applied"',
    'fi',
    '',
    '# The guard runs as UFW\'s before.init hook (installed on every run: a reset may replace it).',
    'install -m 0750 /dev/stdin "$UFW_ETC/before.init" <<\'LMS_GUARD\'',
    guard.trimEnd(),
    'LMS_GUARD',
    '',
    'if ufw status | grep -q "^Status: active"; then',
    '  ufw reload >/dev/null',
    'else',
    '  ufw --force enable >/dev/null',
    'fi',
    'ufw status verbose',
    '',
  ].join('\n');
}

/** The ports the model opens to the outside (22, 80, 443): the only ones the check accepts. */
export const openPorts = (m: FirewallModel): number[] => [...new Set(m.inbound.flatMap((r) => r.ports))].sort((a, b) => a - b);

export const firewallCheckPath = '/usr/local/sbin/lms-firewall-check';

/**
 * Verifies that the firewall of the model is in force, from what the kernel and UFW report (not from
 * the files that configure them): UFW active with default deny incoming; every ALLOW/LIMIT rule opens
 * only the model's ports (22, 80, 443) or admits the k3s cluster networks (DENY/REJECT rules, e.g.
 * fail2ban's bans, are fine); each of those ports has a rule; in the kernel, INPUT dropping by
 * default with UFW's chains hooked in; the
 * pre-routing guard chain with its NodePort drop, jumped to from mangle PREROUTING on the public
 * interface, for IPv4 and IPv6. Exits 1 listing every problem.
 *
 * The k3s step runs it before installing or restarting k3s, first boot runs it after lms-firewall.
 * LMS_FW_UFW_STATUS / LMS_FW_IPTABLES_SAVE / LMS_FW_IP6TABLES_SAVE name files holding
 * `ufw status verbose` / `iptables-save` / `ip6tables-save` output to check instead of the live
 * commands (the tests feed it outputs captured from a real active and inactive firewall).
 */
export function firewallCheckScript(m: FirewallModel): string {
  const ports = openPorts(m);
  return [
    '#!/usr/bin/env bash',
    generatedHeader('#', 'Checks that the host firewall (UFW + pre-routing guard) is active (see bootstrap/host/firewall.ts).').trimEnd(),
    'set -euo pipefail',
    `IFACE=${sq(m.publicInterface)}`,
    'CHAIN=LMS-GUARD',
    `OPEN_PORTS=(${ports.join(' ')})`,
    `CLUSTER_CIDRS=(${m.clusterCidrs.map(sq).join(' ')})`,
    `GUARDED=(${m.guardedPortRanges.map(sq).join(' ')})`,
    'problems=()',
    '',
    'ufw_status() { if [ -n "${LMS_FW_UFW_STATUS:-}" ]; then cat "$LMS_FW_UFW_STATUS"; else ufw status verbose; fi; }',
    'ipt_save() {',
    '  local file="${LMS_FW_IPTABLES_SAVE:-}"',
    '  if [ "$1" = ip6tables ]; then file="${LMS_FW_IP6TABLES_SAVE:-}"; fi',
    '  if [ -n "$file" ]; then cat "$file"; else "$1-save"; fi',
    '}',
    'is_cluster_cidr() { local c; for c in "${CLUSTER_CIDRS[@]}"; do [ "$1" = "$c" ] && return 0; done; return 1; }',
    'is_open_port() { local p; for p in "${OPEN_PORTS[@]}"; do [ "$1" = "$p" ] && return 0; done; return 1; }',
    '',
    '# stderr dropped: ufw warns about the environment (e.g. world-writable /tmp) on stderr.',
    'status="$(ufw_status 2>/dev/null || true)"',
    'active=0',
    'if grep -q "^Status: active$" <<<"$status"; then active=1; else problems+=("UFW is not active ($(grep -m 1 "^Status:" <<<"$status" || echo "no status from ufw"))"); fi',
    'grep -q "^Default: deny (incoming)" <<<"$status" || problems+=("UFW does not deny incoming connections by default")',
    '',
    '# Rule lines: "<to>[ (v6)][ on <if>]  <ACTION>[ IN|OUT|FWD]  <from>[ (v6)]  [# comment]".',
    "rule_re='^([^ ]+)( \\(v6\\))?( on [^ ]+)? +(ALLOW|LIMIT|DENY|REJECT)( (IN|OUT|FWD))? +([^ ]+)( \\(v6\\))?$'",
    "port_re='^([0-9,:]+)(/(tcp|udp))?$'",
    'seen_ports=()',
    'while IFS= read -r line; do',
    '  rule="${line%%#*}"',
    '  rule="${rule%"${rule##*[![:space:]]}"}"',
    '  [ -n "$rule" ] || continue',
    '  if ! [[ "$rule" =~ $rule_re ]]; then problems+=("unrecognised UFW rule: $rule"); continue; fi',
    '  to="${BASH_REMATCH[1]}" action="${BASH_REMATCH[4]}" dir="${BASH_REMATCH[6]:-IN}" from="${BASH_REMATCH[7]}"',
    '  case "$action" in DENY|REJECT) continue ;; esac',
    '  if [ "$dir" = OUT ]; then continue; fi',
    '  if [ "$dir" = FWD ]; then',
    '    is_cluster_cidr "$from" || is_cluster_cidr "$to" || problems+=("routed traffic allowed outside the cluster networks: $rule")',
    '    continue',
    '  fi',
    '  if [ "$to" = Anywhere ]; then',
    '    is_cluster_cidr "$from" || problems+=("every port is open to $from: $rule")',
    '    continue',
    '  fi',
    '  if ! [[ "$to" =~ $port_re ]]; then problems+=("unrecognised UFW rule: $rule"); continue; fi',
    '  IFS=, read -r -a rule_ports <<<"${BASH_REMATCH[1]}"',
    '  for p in "${rule_ports[@]}"; do',
    '    if is_open_port "$p"; then seen_ports+=("$p"); else problems+=("port $p is open: $rule"); fi',
    '  done',
    "done < <(awk 'found && NF { print } /^--/ { found = 1 }' <<<\"$status\")",
    'if [ "$active" = 1 ]; then',
    '  for p in "${OPEN_PORTS[@]}"; do',
    '    printf "%s\\n" "${seen_ports[@]}" | grep -qx -- "$p" || problems+=("no UFW rule opens port $p (another rule set is applied: run lms-firewall)")',
    '  done',
    'fi',
    '',
    '# The kernel tables: UFW hooked into INPUT, the guard chain with its drops on PREROUTING.',
    'for ipt in iptables ip6tables; do',
    '  saved="$(ipt_save "$ipt" 2>&1 || true)"',
    "  filter=\"$(awk '/^\\*filter/ { t = 1; next } /^COMMIT/ { t = 0 } t' <<<\"$saved\")\"",
    "  mangle=\"$(awk '/^\\*mangle/ { t = 1; next } /^COMMIT/ { t = 0 } t' <<<\"$saved\")\"",
    '  ufw_chain=ufw-before-input',
    '  if [ "$ipt" = ip6tables ]; then ufw_chain=ufw6-before-input; fi',
    '  grep -qE -- "^:INPUT DROP " <<<"$filter" || problems+=("$ipt: INPUT does not drop by default (UFW\'s deny policy is not loaded)")',
    '  grep -qxF -- "-A INPUT -j $ufw_chain" <<<"$filter" || problems+=("$ipt: the UFW chains are not in INPUT (UFW is not loaded)")',
    '  grep -qE -- "^:$CHAIN - \\[[0-9]+:[0-9]+\\]$" <<<"$mangle" || problems+=("$ipt: guard chain $CHAIN is missing from the mangle table")',
    '  grep -qxF -- "-A PREROUTING -i $IFACE -m conntrack --ctstate NEW -j $CHAIN" <<<"$mangle" || problems+=("$ipt: PREROUTING does not send new connections on $IFACE to $CHAIN")',
    '  for range in "${GUARDED[@]}"; do',
    '    grep -qxF -- "-A $CHAIN -p tcp -m tcp --dport $range -j DROP" <<<"$mangle" || problems+=("$ipt: $CHAIN does not drop TCP to $range")',
    '  done',
    'done',
    '',
    'if [ "${#problems[@]}" -gt 0 ]; then',
    '  printf "lms-firewall-check: %s\\n" "${problems[@]}" >&2',
    '  exit 1',
    'fi',
    'echo "lms-firewall-check: firewall active (UFW opens ${OPEN_PORTS[*]}; $CHAIN guards $IFACE)"',
    '',
  ].join('\n');
}

export const firewallFiles = (config: Config): HostFile[] => {
  const m = firewallModel(config);
  return [
    { path: '/usr/local/sbin/lms-firewall', content: firewallScript(m), permissions: '0750', shell: true },
    { path: firewallCheckPath, content: firewallCheckScript(m), permissions: '0750', shell: true },
  ];
};
