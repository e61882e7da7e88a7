/**
 * `npm run bench:compression [-- --scale N]`: the base-backup codecs the Barman Cloud plugin offers
 * (ObjectStore `data.compression`: gzip, bzip2, lz4, snappy) on the drill's LMS-shaped rows
 * (drill/lms-data.ts), with the Python modules barman-cloud itself uses (tarfile's gzip and bzip2 at
 * level 9, lz4.frame, python-snappy's stream compressor) from the drill's barman-cloud venv.
 * Records bench/results/backup-compression.json.
 *
 * What it tells: which codec restores fastest over a 10 MB/s link, where the stored size sets the
 * download and the decompression rate must keep up with it. The rows are COPY text, not PostgreSQL
 * pages, so the ratios are relative: the RTO uses the base-backup ratio the drill measures
 * (charts-ts/data/rto.ts); here each codec's projected base term scales that ratio by the codec's
 * size relative to gzip.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { parseConfig } from '../charts-ts/config/load.ts';
import { values } from '../charts-ts/config/values.ts';
import { repoRoot } from '../charts-ts/lib/crds.ts';
import { memoryBytes } from '../charts-ts/lib/quantity.ts';
import { commandLine, integer } from '../charts-ts/tools/cli.ts';
import { lmsRows, lmsSizes, lmsTables, prng, TextGen } from '../drill/lms-data.ts';
import { findTools } from '../drill/tools.ts';

const { options: { scale } } = commandLine({
  script: 'bench:compression',
  summary: 'Compare the plugin\'s base-backup codecs on LMS-shaped rows (ratio, compression and decompression rate) and record bench/results/backup-compression.json.',
  options: { scale: integer('<n>', 'units of LMS-shaped rows (~15 MB each)', { min: 1, max: 40, default: 4 }) },
});

const python = String.raw`
import bz2, gzip, io, json, sys, time, lz4.frame, snappy
data = open(sys.argv[1], 'rb').read()
def gz(b): return gzip.compress(b, compresslevel=9)
def bz(b): return bz2.compress(b, compresslevel=9)
def sn(b):
    c = snappy.StreamCompressor(); return c.compress(b) + c.flush()
def unsn(b):
    return snappy.StreamDecompressor().decompress(b)
codecs = {'gzip': (gz, gzip.decompress), 'bzip2': (bz, bz2.decompress), 'lz4': (lz4.frame.compress, lz4.frame.decompress), 'snappy': (sn, unsn)}
out = {}
for name, (c, d) in codecs.items():
    t0 = time.perf_counter(); z = c(data); t1 = time.perf_counter(); back = d(z); t2 = time.perf_counter()
    assert back == data, name
    out[name] = {'ratio': len(z) / len(data), 'compressMBps': len(data) / 1e6 / (t1 - t0), 'decompressMBps': len(data) / 1e6 / (t2 - t1)}
print(json.dumps(out))
`;

const dir = mkdtempSync(join(tmpdir(), 'bench-compression-'));
try {
  const tools = await findTools();
  const sample = join(dir, 'rows.txt');
  const out = createWriteStream(sample);
  const gen = new TextGen(prng(17));
  const sizes = lmsSizes(scale);
  for (const t of lmsTables) {
    for (const chunk of lmsRows(t, 1, sizes[t], sizes, gen)) if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const bytes = readFileSync(sample).length;
  const script = join(dir, 'bench.py');
  writeFileSync(script, python);
  const r = spawnSync(join(tools.barmanBin, 'python'), [script, sample], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python: ${r.stderr}`);
  const codecs: Record<string, { ratio: number; compressMBps: number; decompressMBps: number }> = JSON.parse(r.stdout);

  const config = parseConfig(values);
  const bw = config.cluster.data.objectives.objectStorageBandwidthMBps;
  const dataBytes = memoryBytes(config.environments.production.database.expectedDataSize);
  const drill = JSON.parse(readFileSync(join(repoRoot, 'drill/report.json'), 'utf8'));
  const drillRatio: number = drill.figures.rto.baseCompression;
  const results = Object.fromEntries(Object.entries(codecs).map(([name, c]) => {
    const ratio = drillRatio * (c.ratio / codecs.gzip.ratio);
    const download = (dataBytes * ratio) / 1e6 / bw / 60;
    const decompress = dataBytes / 1e6 / c.decompressMBps / 60;
    const backup = dataBytes / 1e6 / c.compressMBps / 60;
    return [name, { ...c, projectedBaseRatio: ratio, baseTermMinutes: Math.max(download, decompress), downloadMinutes: download, decompressMinutes: decompress, backupMinutes: backup }];
  }));
  const result = {
    date: new Date().toISOString(), machine: { cpus: cpus().length, load: loadavg()[0] }, scale, sampleBytes: bytes,
    drillGzipRatio: drillRatio, bandwidthMBps: bw, expectedDataSize: config.environments.production.database.expectedDataSize, configured: config.cluster.data.backup.dataCompression,
    codecs: results,
  };
  writeFileSync(join(repoRoot, 'bench/results/backup-compression.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(`sample: ${(bytes / 1e6).toFixed(0)} MB of LMS-shaped rows; base term for ${result.expectedDataSize} at ${bw} MB/s (configured: ${result.configured})`);
  for (const [name, c] of Object.entries(results)) {
    console.log(`${name.padEnd(7)} ratio ${(c.ratio * 100).toFixed(1)} %, compress ${c.compressMBps.toFixed(1)} MB/s, decompress ${c.decompressMBps.toFixed(1)} MB/s -> base term ${c.baseTermMinutes.toFixed(1)} min (download ${c.downloadMinutes.toFixed(1)}, decompress ${c.decompressMinutes.toFixed(1)}), backup ${c.backupMinutes.toFixed(0)} min of CPU`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
