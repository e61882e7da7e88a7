/**
 * The age image of the dump's encrypt step (images/age/image.ts) is reproducible and is what the
 * config pins: rebuilt here from the Go module, it has the pinned manifest digest, byte for byte twice;
 * the layout is a valid OCI image; the layer holds the binary and licenses only (root-owned, no setuid,
 * no shell) and runs as non-root. Pushed with crane to the reference registry (distribution) on
 * loopback, the registry reports the same digest, and the binary pulled back from it encrypts with the
 * CronJob's exact arguments to a key that decrypts the dump.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1CronJob } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ageImage, buildAgeImage, pinProblem, type AgeImageBuild } from '../../images/age/image.ts';
import { imageRef } from '../../charts-ts/config/schema.ts';
import { logicalDumpName, logicalDumpSteps } from '../../charts-ts/data/logical-dump.ts';
import { repoRoot } from '../../charts-ts/lib/crds.ts';
import { sha256, tarLayer, writeImageLayout } from '../../charts-ts/lib/oci-layout.ts';
import { renderAll } from '../support/render.ts';

const bin = join(repoRoot, '.cache/bin');
const r = renderAll();
const pinned = r.config.cluster.data.logicalDump.images.age;
const work = mkdtempSync(join(tmpdir(), 'age-image-test-'));

function run(cmd: string, args: string[], opts: { input?: Buffer | string; cwd?: string } = {}) {
  const p = spawnSync(cmd, args, { cwd: opts.cwd, input: opts.input, maxBuffer: 64 << 20 });
  if (p.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${p.status}\n${p.stderr}`);
  return p.stdout;
}

let build: AgeImageBuild;
beforeAll(() => {
  build = buildAgeImage(pinned.tag);
}, 600_000);

describe('age image build', () => {
  it('is the image the config pins (the committed digest is current)', () => {
    expect(pinProblem(pinned, build.layout.digest)).toBeUndefined();
    expect(build.layout.digest).toBe(pinned.digest);
  });

  it('is byte-identical when built again', () => {
    const again = buildAgeImage(pinned.tag);
    expect([...again.layout.files.keys()]).toEqual([...build.layout.files.keys()]);
    for (const [path, content] of build.layout.files) expect(again.layout.files.get(path)!.equals(content), path).toBe(true);
  }, 600_000);

  it('a digest that differs from the build names the field and the fix', () => {
    const problem = pinProblem({ ...pinned, digest: `sha256:${'1'.repeat(64)}` }, build.layout.digest);
    expect(problem).toContain('cluster.data.logicalDump.images.age.digest');
    expect(problem).toContain('npm run image:age -- --pin');
    expect(() => buildAgeImage('latest')).toThrow(/images\.age\.tag "latest" is not a release of filippo\.io\/age/);
  });

  it('is the pinned module version, which the drill tools use too', () => {
    expect(build.modules.get(ageImage.module)).toBe(pinned.tag);
    const setup = readFileSync(join(repoRoot, 'scripts/setup.d/40-data-tools.sh'), 'utf8');
    expect(/^AGE_MODULE=(\S+)$/m.exec(setup)?.[1]).toBe(pinned.tag);
  });
});

describe('age image layout (OCI image-spec 1.1)', () => {
  const dir = join(work, 'layout');
  const blob = (digest: string) => readFileSync(join(dir, 'blobs/sha256', digest.replace('sha256:', '')));
  /** A JSON blob of the layout, typed as the fields read (OCI image-spec: index, manifest, config). */
  const parse = <T = unknown>(b: Buffer) => JSON.parse(b.toString('utf8')) as T;
  interface Descriptor { digest: string; size: number; mediaType: string }
  interface Manifest { config: Descriptor; layers: Descriptor[] }
  interface ImageConfig { rootfs: { diff_ids: string[] }; config: { User: string; Env: string[] } }
  const layerFile = () => join(dir, 'blobs/sha256', build.layout.layer.digest.replace('sha256:', ''));
  beforeAll(() => writeImageLayout(dir, build.layout));

  it('every blob is named by its sha256 and every descriptor matches its blob', () => {
    for (const name of readdirSync(join(dir, 'blobs/sha256'))) {
      expect(sha256(readFileSync(join(dir, 'blobs/sha256', name)))).toBe(`sha256:${name}`);
    }
    expect(parse(readFileSync(join(dir, 'oci-layout')))).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = parse<{ manifests: Descriptor[] }>(readFileSync(join(dir, 'index.json')));
    expect(index.manifests).toHaveLength(1);
    const desc = index.manifests[0];
    expect(desc).toMatchObject({ digest: pinned.digest, platform: { os: 'linux', architecture: 'amd64' }, annotations: { 'org.opencontainers.image.ref.name': pinned.tag } });
    const manifestBytes = blob(desc.digest);
    expect(manifestBytes.length).toBe(desc.size);
    const manifest = parse<Manifest>(manifestBytes);
    for (const d of [manifest.config, ...manifest.layers]) expect(blob(d.digest).length, d.digest).toBe(d.size);
    const config = parse<ImageConfig>(blob(manifest.config.digest));
    // An uncompressed layer: the diff_id is the layer digest.
    expect(manifest.layers.map((l) => l.mediaType)).toEqual(['application/vnd.oci.image.layer.v1.tar']);
    expect(config.rootfs.diff_ids).toEqual(manifest.layers.map((l) => l.digest));
  });

  it('runs as a numeric non-root user with the CronJob command on its PATH (CIS Docker 4.1)', () => {
    const config = parse<ImageConfig>(blob(parse<Manifest>(blob(pinned.digest)).config.digest));
    expect(config.config.User).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    const path = config.config.Env.find((e: string) => e.startsWith('PATH='))!.slice(5).split(':');
    const layer = run('tar', ['-tvf', layerFile()]).toString();
    const encrypt = logicalDumpSteps(r.config, Object.values(r.config.environments)[0]).find((s) => s.name === 'encrypt')!;
    const resolved = path.map((p: string) => `${p}/${encrypt.command[0]}`.slice(1));
    expect(layer.split('\n').some((l) => resolved.some((f: string) => l.startsWith('-rwxr-xr-x root/root') && l.endsWith(` ${f}`)))).toBe(true);
  });

  it('holds the binary and license texts only: root-owned, no setuid, no shell (GNU tar listing)', () => {
    const lines = run('tar', ['-tvf', layerFile()]).toString().trim().split('\n');
    const files = lines.filter((l) => l.startsWith('-')).map((l) => l.split(/\s+/).at(-1)!);
    expect(files[0]).toBe('usr/local/bin/age');
    expect(files.slice(1).every((f) => /^usr\/share\/licenses\/.+\/LICENSE$/.test(f))).toBe(true);
    for (const module of [...build.modules.keys(), 'go']) expect(files).toContain(`usr/share/licenses/${module}/LICENSE`);
    for (const l of lines) {
      expect(l).toMatch(/^[-d]r[-w][-x]r-[-x]r-[-x] root\/root /); // no s/S/t bits, not group/world-writable
    }
    expect(files).not.toContain('bin/sh');
  });

  it('the CronJob pulls this image by the pinned digest', () => {
    for (const env of Object.values(r.config.environments)) {
      const pod = r.getOf<V1CronJob>('batch', 'CronJob', logicalDumpName, env.namespace).spec!.jobTemplate.spec!.template.spec!;
      expect(pod.initContainers!.find((c) => c.name === 'encrypt')!.image).toBe(imageRef(pinned));
    }
    expect(imageRef(pinned)).toBe(`${pinned.repository}:${pinned.tag}@${pinned.digest}`);
  });
});

describe('age image through a registry (distribution, crane)', () => {
  let registry: ChildProcess;
  let host = '';
  const ref = () => `${host}/lms-platform/age:${pinned.tag}`;
  const crane = (...args: string[]) => run(join(bin, 'crane'), args);

  beforeAll(async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    host = `127.0.0.1:${port}`;
    const cfg = join(work, 'registry.yml');
    writeFileSync(cfg, ['version: 0.1', 'log: { level: error }', `storage: { filesystem: { rootdirectory: ${join(work, 'registry')} } }`, `http: { addr: "${host}", secret: test-only }`, ''].join('\n'));
    registry = spawn(join(bin, 'registry'), ['serve', cfg], { stdio: 'ignore' });
    for (let i = 0; ; i++) {
      if (await fetch(`http://${host}/v2/`).then((res) => res.ok, () => false)) break;
      if (i > 100) throw new Error('registry did not start');
      await new Promise((res) => setTimeout(res, 100));
    }
    writeImageLayout(join(work, 'push'), build.layout);
    crane('push', join(work, 'push'), ref());
  }, 120_000);
  afterAll(() => registry?.kill());

  it('keeps the digest through the push (what the workflow checks against the pin)', () => {
    expect(crane('digest', ref()).toString().trim()).toBe(pinned.digest);
    expect(sha256(crane('manifest', ref()))).toBe(pinned.digest);
  });

  it('the pulled binary encrypts with the CronJob arguments to a key that decrypts it', () => {
    const root = join(work, 'rootfs');
    mkdirSync(root, { recursive: true });
    run('tar', ['-xf', '-', '-C', root], { input: crane('export', ref(), '-') });
    const age = join(root, 'usr/local/bin/age');
    expect(run(age, ['--version']).toString().trim()).toBe(pinned.tag);

    const key = join(work, 'dump.agekey');
    run(join(bin, 'age-keygen'), ['-o', key]);
    const recipient = /public key: (age1\S+)/.exec(readFileSync(key, 'utf8'))![1];
    const config = structuredClone(r.config);
    (config.cluster.data.logicalDump as { ageRecipients: string[] }).ageRecipients = [recipient];
    const dumpDir = join(work, 'dump');
    mkdirSync(dumpDir);
    const plaintext = Buffer.from(`PGDMP${'lms row\n'.repeat(10_000)}`);
    writeFileSync(join(dumpDir, 'lms.dump'), plaintext);
    const step = logicalDumpSteps(config, Object.values(config.environments)[0], { work: dumpDir, home: work, caDir: work }).find((s) => s.name === 'encrypt')!;
    run(join(root, ageImage.binDir, step.command[0]), step.command.slice(1));
    const ciphertext = readFileSync(join(dumpDir, 'lms.dump.age'));
    expect(ciphertext.subarray(0, 21).toString()).toBe('age-encryption.org/v1');
    expect(ciphertext.includes(Buffer.from('lms row'))).toBe(false);
    expect(run(age, ['--decrypt', '--identity', key, join(dumpDir, 'lms.dump.age')]).equals(plaintext)).toBe(true);
  });
});

describe('oci-layout rejects what must not ship', () => {
  it('setuid bits, relative paths and duplicates', () => {
    const content = Buffer.from('x');
    expect(() => tarLayer([{ path: '/usr/bin/x', content, mode: 0o4755 }])).toThrow(/setuid.*CIS Docker 4\.8/);
    expect(() => tarLayer([{ path: 'usr/bin/x', content, mode: 0o755 }])).toThrow(/not an absolute file path/);
    expect(() => tarLayer([{ path: '/x', content, mode: 0o644 }, { path: '/x', content, mode: 0o644 }])).toThrow(/listed twice/);
  });

  it('GNU tar reads the layer exactly: names, modes, sizes, contents', () => {
    const files = [
      { path: '/b/data.bin', content: Buffer.alloc(1025, 7), mode: 0o644 },
      { path: '/a/run', content: Buffer.from('#!/x\n'), mode: 0o750 },
    ];
    const dir = join(work, 'tarcheck');
    mkdirSync(dir);
    writeFileSync(join(dir, 'layer.tar'), tarLayer(files));
    expect(run('tar', ['-tvf', 'layer.tar'], { cwd: dir }).toString().trim().split('\n').map((l) => l.split(/\s+/).filter((_, i) => [0, 1, 2, 5].includes(i)).join(' '))).toEqual([
      'drwxr-xr-x root/root 0 a/', '-rwxr-x--- root/root 5 a/run', 'drwxr-xr-x root/root 0 b/', '-rw-r--r-- root/root 1025 b/data.bin',
    ]);
    run('tar', ['-xf', 'layer.tar'], { cwd: dir });
    expect(readFileSync(join(dir, 'b/data.bin')).equals(files[0].content)).toBe(true);
  });
});
