/**
 * The image of the logical dump's `encrypt` step (charts-ts/data/logical-dump.ts): the age CLI
 * (https://github.com/FiloSottile/age, BSD-3-Clause) and nothing else. No shell, no package manager,
 * no libc (a static Go binary), runs as 65532:65532.
 *
 * No public image of age could be pinned, and a Dockerfile build is not reproducible (timestamps,
 * base image drift), so this image is built from code: the Go module at the version the config pins
 * (cluster.data.logicalDump.images.age.tag), with a pinned Go toolchain and fixed flags (Go builds are
 * bit-for-bit reproducible: https://go.dev/blog/rebuild), into a deterministic OCI layout
 * (charts-ts/lib/oci-layout.ts). The same build anywhere gives the same manifest digest, so the digest
 * is pinned in the config like every other image, and the age-image workflow rebuilds it, checks it
 * equals the pin and pushes exactly those bytes.
 *
 *   npm run image:age                   build into .cache/images/age, compare with the pin
 *   npm run image:age -- --check        exit 1 if the build differs from the pinned digest
 *   npm run image:age -- --pin          write the built digest into the config (after a version bump)
 *   npm run image:age -- --out <dir>    build into <dir>
 *   ... --github-output                 also write ref= and digest= to $GITHUB_OUTPUT (the workflow)
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { arch, platform, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig } from '../../charts-ts/config/load.ts';
import type { Image } from '../../charts-ts/config/schema.ts';
import { repoRoot } from '../../charts-ts/lib/crds.ts';
import { imageLayout, writeImageLayout, type ImageLayout, type LayerFile } from '../../charts-ts/lib/oci-layout.ts';
import { bumpImage } from '../../charts-ts/tools/bump-image.ts';
import { commandLine, flag, text } from '../../charts-ts/tools/cli.ts';

export const ageImage = {
  module: 'filippo.io/age',
  /** Only the CLI the dump runs; keys are generated offline (age-keygen), never in the cluster. */
  command: 'age',
  binDir: '/usr/local/bin',
  // Same toolchain + same flags = same bytes; a toolchain bump changes the digest (re-pin).
  // renovate: datasource=golang-version depName=go
  goToolchain: '1.26.8',
  goBuildFlags: ['-trimpath', '-ldflags=-s -w -buildid='],
  platform: { os: 'linux', architecture: 'amd64' },
  /** Static, and the baseline amd64 instruction set whatever the build machine supports. */
  goEnv: { CGO_ENABLED: '0', GOOS: 'linux', GOARCH: 'amd64', GOAMD64: 'v1' },
  user: '65532:65532',
  defaultOut: join(repoRoot, '.cache/images/age'),
} as const;

export interface AgeImageBuild {
  readonly layout: ImageLayout;
  /** Module path -> version of everything linked in (from the binary's build info). */
  readonly modules: ReadonlyMap<string, string>;
  /** The built binary (for tests; the layer holds the same bytes). */
  readonly binary: Buffer;
}

const goEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, GOTOOLCHAIN: `go${ageImage.goToolchain}`, GOFLAGS: '', GOWORK: 'off', ...extra };
  // Anything that changes code generation must come from here, not from the caller's shell.
  delete env.GOEXPERIMENT;
  delete env.GODEBUG;
  return env;
};

function go(args: string[], env: NodeJS.ProcessEnv, cwd: string): string {
  try {
    return execFileSync('go', args, { env, cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`image:age: go ${args.join(' ')} failed: ${err.stderr?.trim() || err.message}`, { cause: e });
  }
}

/** `go version -m` output -> module path -> version (main module and deps). */
export function buildInfoModules(text: string): Map<string, string> {
  const modules = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s+(mod|dep)\s+(\S+)\s+(v\S+)/.exec(line);
    if (m) modules.set(m[2], m[3]);
  }
  return modules;
}

const licenseNames = ['LICENSE', 'LICENSE.txt', 'LICENSE.md', 'COPYING'];

function licenseIn(dir: string, what: string): Buffer {
  const name = licenseNames.find((n) => existsSync(join(dir, n)));
  if (!name) throw new Error(`image:age: no license file (${licenseNames.join(', ')}) in ${what} at ${dir}; the image must carry the license of everything it links`);
  return readFileSync(join(dir, name));
}

/** Build the age binary and assemble the image. `version` is the module version (the config tag). */
export function buildAgeImage(version: string): AgeImageBuild {
  if (!/^v\d+\.\d+\.\d+$/.test(version)) {
    throw new Error(`image:age: cluster.data.logicalDump.images.age.tag "${version}" is not a release of ${ageImage.module}; use its Go module version, e.g. v1.3.2`);
  }
  const work = mkdtempSync(join(tmpdir(), 'age-image-'));
  try {
    const native = platform() === 'linux' && arch() === 'x64';
    // GOBIN cannot take a cross-compiled install; then go puts it under GOPATH/bin/<os>_<arch>.
    const env = goEnv({ ...ageImage.goEnv, ...(native ? { GOBIN: join(work, 'bin') } : {}) });
    go(['install', ...ageImage.goBuildFlags, `${ageImage.module}/cmd/${ageImage.command}@${version}`], env, work);
    const binaryPath = native
      ? join(work, 'bin', ageImage.command)
      : join(go(['env', 'GOPATH'], env, work).trim().split(':')[0], 'bin', 'linux_amd64', ageImage.command);
    const binary = readFileSync(binaryPath);

    const modules = buildInfoModules(go(['version', '-m', binaryPath], env, work));
    if (modules.get(ageImage.module) !== version) {
      throw new Error(`image:age: the binary reports ${ageImage.module} ${modules.get(ageImage.module) ?? '(none)'}, expected ${version}`);
    }
    // License texts of every linked module and of Go itself (BSD-3-Clause asks for the notice).
    const downloaded = go(['mod', 'download', '-json', ...[...modules].map(([m, v]) => `${m}@${v}`)], goEnv(), work);
    const dirs = new Map<string, string>();
    for (const chunk of downloaded.split(/\n(?=\{)/)) {
      const info = JSON.parse(chunk) as { Path: string; Dir?: string; Error?: string };
      if (!info.Dir) throw new Error(`image:age: go mod download ${info.Path}: ${info.Error ?? 'no directory'}`);
      dirs.set(info.Path, info.Dir);
    }
    const goroot = go(['env', 'GOROOT'], goEnv(), work).trim();
    const files: LayerFile[] = [
      { path: `${ageImage.binDir}/${ageImage.command}`, content: binary, mode: 0o755 },
      { path: '/usr/share/licenses/go/LICENSE', content: licenseIn(goroot, `go${ageImage.goToolchain}`), mode: 0o644 },
      ...[...modules.keys()].sort().map((m) => ({ path: `/usr/share/licenses/${m}/LICENSE`, content: licenseIn(dirs.get(m)!, m), mode: 0o644 })),
    ];
    const layout = imageLayout({
      files,
      platform: ageImage.platform,
      user: ageImage.user,
      env: [`PATH=${ageImage.binDir}`],
      entrypoint: [`${ageImage.binDir}/${ageImage.command}`],
      annotations: {
        'org.opencontainers.image.title': 'age',
        'org.opencontainers.image.description': 'age file encryption CLI for the LMS logical dumps',
        'org.opencontainers.image.version': version,
        'org.opencontainers.image.source': 'https://github.com/FiloSottile/age',
        'org.opencontainers.image.licenses': 'BSD-3-Clause',
      },
      refName: version,
      createdBy: `go${ageImage.goToolchain} install ${ageImage.goBuildFlags.join(' ')} ${ageImage.module}/cmd/${ageImage.command}@${version} (${Object.entries(ageImage.goEnv).map(([k, v]) => `${k}=${v}`).join(' ')})`,
    });
    return { layout, modules, binary };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The pin's problem, if the build is not what the config pins; undefined when they agree. */
export function pinProblem(pinned: Image, built: string): string | undefined {
  if (pinned.digest === built) return undefined;
  return `cluster.data.logicalDump.images.age.digest is ${pinned.digest}, but building ${ageImage.module} ${pinned.tag} (go${ageImage.goToolchain}) gives ${built}: ` +
    'run `npm run image:age -- --pin` to pin this build (after a version or toolchain bump), or revert the change that altered the build';
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const cli = commandLine({
    script: 'image:age',
    summary: 'Build the logical dump\'s age image reproducibly (OCI layout) and compare it with the digest the config pins.',
    options: {
      check: flag('exit 1 if the build differs from the pinned digest'),
      pin: flag('write the built digest into the config (after a version or toolchain bump)'),
      out: text('<dir>', `build into this directory (default ${relative(repoRoot, ageImage.defaultOut)})`),
      githubOutput: flag('also write ref=, digest= and layout= to $GITHUB_OUTPUT (the age-image workflow)'),
    },
    config: true,
  });
  try {
    const pinned = loadConfig(cli.valuesFile).cluster.data.logicalDump.images.age;
    const out = cli.options.out ?? ageImage.defaultOut;
    const build = buildAgeImage(pinned.tag);
    writeImageLayout(out, build.layout);
    const ref = `${pinned.repository}:${pinned.tag}`;
    console.log(`image:age: ${ref}@${build.layout.digest} -> ${out} (OCI layout)`);
    if (cli.options.githubOutput) {
      if (!process.env.GITHUB_OUTPUT) throw new Error('image:age: --github-output needs $GITHUB_OUTPUT (set by GitHub Actions)');
      appendFileSync(process.env.GITHUB_OUTPUT, `ref=${ref}\ndigest=${build.layout.digest}\nlayout=${out}\n`);
    }
    if (cli.options.pin) {
      for (const c of bumpImage({ repository: pinned.repository, tag: pinned.tag, digest: build.layout.digest })) console.log(`image:age: pinned in ${c.file}`);
    } else {
      const problem = pinProblem(pinned, build.layout.digest);
      if (problem) {
        console.error(`image:age: ${problem}`);
        if (cli.options.check) process.exit(1);
      } else {
        console.log('image:age: the build is the pinned image');
      }
    }
  } catch (e) {
    console.error(e instanceof ConfigError ? e.message : (e as Error).message);
    process.exit(2);
  }
}
