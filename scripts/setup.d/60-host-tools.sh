#!/usr/bin/env bash
# Host bootstrap tests (bootstrap/**): the real tools that check what the bootstrap generates.
#   openssh-server  `sshd -t -f` on the generated sshd_config
#   fail2ban        `fail2ban-client -t` and `fail2ban-regex` on the generated jails/filters
#   cloud-init      `cloud-init schema` on the generated user-data
#   ShellCheck      every generated shell snippet
#   ufw, iptables, nftables, iproute2, socat
#                   the firewall test: rules applied in a network namespace, probed from another
#   dnsutils        `dig` against the Cloudflare stand-in zone's DNS server (test/support/zone-dns.test.ts)
# Debian packages (bookworm), versions pinned by the distribution release.
set -euo pipefail
APT_OPTS="${APT_OPTS:--y -q -o DPkg::Lock::Timeout=600}"
pkgs=(openssh-server fail2ban cloud-init shellcheck ufw iptables nftables iproute2 socat dnsutils)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "60-host-tools: need root to install ${missing[*]}" >&2; exit 1; }
  # Package scripts must not start sshd/fail2ban on this machine: the tests run the binaries directly.
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install $APT_OPTS --no-install-recommends "${missing[@]}"
fi
/usr/sbin/sshd -V 2>&1 | sed -n 1p || true
fail2ban-client --version | sed -n 1p
cloud-init --version
shellcheck --version | sed -n 2p
dig -v 2>&1 | sed -n 1p
# moto's S3 server for the bucket/lifecycle tests: the one 40-data-tools.sh installs for the drill.
