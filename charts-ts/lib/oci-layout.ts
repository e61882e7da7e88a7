/**
 * A reproducible single-layer OCI image, written as an OCI image layout directory
 * (https://github.com/opencontainers/image-spec/blob/v1.1.1/image-layout.md) without a container
 * engine. Same files in, byte-identical layout out, so the manifest digest can be pinned in the
 * config before any registry has seen the image, and CI can prove the push is that build.
 *
 * Determinism: an uncompressed tar layer (compressor output differs between zlib versions; the
 * OCI `tar` media type is supported by containerd and every registry), entries sorted, owner
 * root:root, mtime 0, no extended headers, JSON with a fixed key order.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface LayerFile {
  /** Absolute path in the image, e.g. /usr/local/bin/age. */
  readonly path: string;
  readonly content: Buffer;
  /** Permission bits; no setuid/setgid/sticky (CIS Docker 4.8). */
  readonly mode: number;
}

export interface ImageSpec {
  readonly files: readonly LayerFile[];
  readonly platform: { readonly os: 'linux'; readonly architecture: string };
  /** Numeric uid:gid, so Kubernetes runAsNonRoot can verify it without an /etc/passwd. */
  readonly user: string;
  readonly env: readonly string[];
  readonly entrypoint: readonly string[];
  /** org.opencontainers.image.* annotations, set on the manifest and as config labels. */
  readonly annotations: Readonly<Record<string, string>>;
  /** The tag recorded as org.opencontainers.image.ref.name in index.json. */
  readonly refName: string;
  /** One line for the config history: how the layer was made. */
  readonly createdBy: string;
}

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

export const mediaTypes = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

const epoch = '1970-01-01T00:00:00Z';
export const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

// ---------------------------------------------------------------- tar (POSIX ustar)
const block = 512;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(name: string, type: '0' | '5', mode: number, size: number): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`oci-layout: ${name} is longer than a ustar name (100 bytes); use a shorter path`);
  const h = Buffer.alloc(block);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100);
  h.write(octal(0, 8), 108); // uid
  h.write(octal(0, 8), 116); // gid
  h.write(octal(size, 12), 124);
  h.write(octal(0, 12), 136); // mtime
  h.write(' '.repeat(8), 148); // checksum placeholder
  h.write(type, 156);
  h.write('ustar\u000000', 257);
  h.write('root', 265);
  h.write('root', 297);
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(octal(sum, 7) + ' ', 148);
  return h;
}

/** The files plus every parent directory, sorted, as an uncompressed ustar stream. */
export function tarLayer(files: readonly LayerFile[]): Buffer {
  const entries = new Map<string, LayerFile | 'dir'>();
  for (const f of files) {
    if (!f.path.startsWith('/') || f.path.endsWith('/') || f.path.split('/').includes('..')) {
      throw new Error(`oci-layout: ${f.path} is not an absolute file path`);
    }
    if (f.mode & 0o7000 || f.mode > 0o777) throw new Error(`oci-layout: ${f.path} mode ${f.mode.toString(8)} has setuid/setgid/sticky bits; use plain permissions (CIS Docker 4.8)`);
    const rel = f.path.slice(1);
    if (entries.has(rel)) throw new Error(`oci-layout: ${f.path} is listed twice`);
    entries.set(rel, f);
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) entries.set(`${parts.slice(0, i).join('/')}/`, 'dir');
  }
  const chunks: Buffer[] = [];
  for (const name of [...entries.keys()].sort()) {
    const e = entries.get(name)!;
    if (e === 'dir') {
      chunks.push(header(name, '5', 0o755, 0));
    } else {
      chunks.push(header(name, '0', e.mode, e.content.length), e.content);
      const pad = (block - (e.content.length % block)) % block;
      if (pad) chunks.push(Buffer.alloc(pad));
    }
  }
  chunks.push(Buffer.alloc(2 * block));
  return Buffer.concat(chunks);
}

// ---------------------------------------------------------------- image
export interface ImageLayout {
  /** Path (relative to the layout root) -> content. */
  readonly files: ReadonlyMap<string, Buffer>;
  /** The manifest digest: what a registry reports and the config pins. */
  readonly digest: string;
  readonly manifest: Descriptor;
  readonly config: Descriptor;
  readonly layer: Descriptor;
}

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

export function imageLayout(spec: ImageSpec): ImageLayout {
  const layerBytes = tarLayer(spec.files);
  const layer: Descriptor = { mediaType: mediaTypes.layer, digest: sha256(layerBytes), size: layerBytes.length };
  const configBytes = json({
    created: epoch,
    architecture: spec.platform.architecture,
    os: spec.platform.os,
    config: {
      User: spec.user,
      Env: spec.env,
      Entrypoint: spec.entrypoint,
      Labels: spec.annotations,
    },
    // Uncompressed layer: its diff_id is its digest.
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
    history: [{ created: epoch, created_by: spec.createdBy }],
  });
  const config: Descriptor = { mediaType: mediaTypes.config, digest: sha256(configBytes), size: configBytes.length };
  const manifestBytes = json({
    schemaVersion: 2,
    mediaType: mediaTypes.manifest,
    config,
    layers: [layer],
    annotations: spec.annotations,
  });
  const manifest: Descriptor = { mediaType: mediaTypes.manifest, digest: sha256(manifestBytes), size: manifestBytes.length };
  const index = json({
    schemaVersion: 2,
    mediaType: mediaTypes.index,
    manifests: [{ ...manifest, platform: spec.platform, annotations: { 'org.opencontainers.image.ref.name': spec.refName } }],
  });
  const blob = (d: Descriptor) => `blobs/sha256/${d.digest.slice('sha256:'.length)}`;
  const files = new Map<string, Buffer>([
    ['oci-layout', json({ imageLayoutVersion: '1.0.0' })],
    ['index.json', index],
    [blob(layer), layerBytes],
    [blob(config), configBytes],
    [blob(manifest), manifestBytes],
  ]);
  return { files, digest: manifest.digest, manifest, config, layer };
}

/** Write the layout to `dir`, replacing it whole (a failed write leaves the previous one). */
export function writeImageLayout(dir: string, layout: ImageLayout): void {
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  for (const [path, content] of layout.files) {
    mkdirSync(dirname(join(tmp, path)), { recursive: true });
    writeFileSync(join(tmp, path), content);
  }
  const old = `${dir}.old-${process.pid}`;
  rmSync(old, { recursive: true, force: true });
  mkdirSync(dirname(dir), { recursive: true });
  try {
    renameSync(dir, old);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}
