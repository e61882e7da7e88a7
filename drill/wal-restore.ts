/**
 * The WAL fetch of a CloudNativePG restore with the Barman Cloud plugin, as a restore_command for the
 * drill's PostgreSQL. plugin-barman-cloud v0.14.0 (internal/cnpgi/common/wal.go, Restore) does, per
 * call: if the requested file is in the spool, move it to %p and return; otherwise, for a regular WAL
 * segment, take it and the next wal.maxParallel - 1 segment names, run one barman-cloud-wal-restore
 * per name at once (github.com/cloudnative-pg/barman-cloud pkg/restorer, RestoreList), the first into
 * %p and the others into the spool, and fail only when the first one failed. Each call is logged
 * (name, fetched or spool, start and end time) so the drill can split the replay into fetch and apply.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { shellArg } from './postgres.ts';

export interface WalRestoreScript {
  readonly path: string;
  readonly spoolDir: string;
  readonly logFile: string;
}

export function writeWalRestoreScript(opts: { path: string; spoolDir: string; logFile: string; walRestore: string[]; maxParallel: number }): WalRestoreScript {
  const cmd = opts.walRestore.map(shellArg).join(' ');
  const script = `#!/bin/bash
# plugin-barman-cloud v0.14.0 WAL restore with wal.maxParallel = ${opts.maxParallel} (drill/wal-restore.ts)
set -u
wal="$1"; dest="$2"; spool=${shellArg(opts.spoolDir)}; log=${shellArg(opts.logFile)}; n=${opts.maxParallel}
start=$(date +%s.%N)
if [ -f "$spool/$wal" ]; then
  mv "$spool/$wal" "$dest"
  echo "$wal spool 1 $start $(date +%s.%N) 0" >> "$log"
  exit 0
fi
list=("$wal")
if [[ "$wal" =~ ^[0-9A-F]{24}$ ]]; then
  tli=\${wal:0:8}; hi=$((16#\${wal:8:8})); seg=$((16#\${wal:16:8}))
  for ((i = 1; i < n; i++)); do
    seg=$((seg + 1)); if ((seg > 255)); then seg=0; hi=$((hi + 1)); fi
    list+=("$(printf '%s%08X%08X' "$tli" "$hi" "$seg")")
  done
fi
pids=()
for i in "\${!list[@]}"; do
  if ((i == 0)); then to="$dest"; else to="$spool/\${list[$i]}.part"; fi
  ${cmd} "\${list[$i]}" "$to" 2>/dev/null &
  pids+=($!)
done
rc=0; ok=0
for i in "\${!pids[@]}"; do
  if wait "\${pids[$i]}"; then
    ok=$((ok + 1)); if ((i > 0)); then mv "$spool/\${list[$i]}.part" "$spool/\${list[$i]}"; fi
  else
    if ((i == 0)); then rc=1; else rm -f "$spool/\${list[$i]}.part"; fi
  fi
done
echo "$wal fetched $ok $start $(date +%s.%N) $rc" >> "$log"
exit $rc
`;
  writeFileSync(opts.path, script);
  chmodSync(opts.path, 0o755);
  return { path: opts.path, spoolDir: opts.spoolDir, logFile: opts.logFile };
}

export interface WalRestoreCall {
  readonly wal: string;
  readonly fromSpool: boolean;
  /** Segments that arrived (the requested one and the prefetched ones). */
  readonly arrived: number;
  readonly seconds: number;
  /** The requested file arrived (restore_command exit 0). */
  readonly ok: boolean;
}

export function readWalRestoreLog(logFile: string): WalRestoreCall[] {
  if (!existsSync(logFile)) return [];
  return readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((l) => {
    const [wal, kind, n, start, end, rc] = l.split(' ');
    return { wal, fromSpool: kind === 'spool', arrived: Number(n), seconds: Number(end) - Number(start), ok: rc === '0' };
  });
}

/** Regular WAL segment names (not .history, .backup or .partial). */
export const isSegment = (name: string) => /^[0-9A-F]{24}$/.test(name);
