/**
 * CIS Docker Benchmark checks that a Dockerfile alone can show, on the parsed instruction tree
 * (dockerfile-ast, the parser behind the Dockerfile language server), not on text patterns:
 *
 * - 4.1  the image runs as a non-root user: the final stage sets USER, and not to root/0;
 * - 4.6  the final stage has a HEALTHCHECK (and not `HEALTHCHECK NONE`);
 * - 4.2  trusted base images: every base is pinned by digest (FROM image@sha256:...), so what was
 *        reviewed and scanned is what builds;
 * - 4.9  no ADD of remote sources (URLs, git): COPY what the build fetched and verified instead;
 * - 4.10 no secrets in ARG/ENV (they persist in the image history and config): use a BuildKit
 *        secret mount at build time and a Kubernetes Secret at run time.
 *
 * Dockle checks the built image against the same benchmark in the images workflow.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';

export interface Finding {
  /** CIS Docker Benchmark item, e.g. "4.1". */
  readonly cis: string;
  /** 1-based line in the Dockerfile. */
  readonly line: number;
  readonly message: string;
}

/** ARG/ENV names that hold credentials (Dockle CIS-DI-0010 uses the same idea). */
const secretName = /(passw(or)?d|secret|token|api[_-]?key|private[_-]?key|access[_-]?key|credential|auth[_-]?key)/i;
const remoteSource = /^(https?|ftp|git|ssh):\/\/|^git@|\.git(#.*)?$/i;
const digestPinned = /^sha256:[a-f0-9]{64}$/;
const rootUser = /^(root|0)(:.*)?$/;

const lineOf = (i: Instruction): number => i.getRange().start.line + 1;

export function checkDockerfile(content: string): Finding[] {
  const dockerfile = DockerfileParser.parse(content);
  const findings: Finding[] = [];
  const froms = dockerfile.getFROMs();
  if (froms.length === 0) return [{ cis: '4.1', line: 1, message: 'no FROM instruction: not a Dockerfile' }];

  // Base images pinned by digest. A FROM naming an earlier stage (or scratch) has nothing to pin.
  const stages = new Set<string>();
  for (const from of froms) {
    const image = from.getImageName() ?? '';
    if (!stages.has(image.toLowerCase()) && image !== 'scratch') {
      const digest = from.getImageDigest();
      if (!digest || !digestPinned.test(digest)) {
        const repository = [from.getRegistry(), image].filter(Boolean).join('/');
        findings.push({ cis: '4.2', line: lineOf(from), message: `base image ${from.getImage()} is not pinned by digest; use ${repository}:<tag>@sha256:<digest> so a re-pushed tag cannot change the image` });
      }
    }
    const stage = from.getBuildStage();
    if (stage) stages.add(stage.toLowerCase());
  }

  const instructions = dockerfile.getInstructions();
  const finalFromLine = lineOf(froms[froms.length - 1]);
  const finalStage = instructions.filter((i) => lineOf(i) > finalFromLine);

  // 4.1 non-root user in the image that ships (the last USER of the final stage wins).
  const users = finalStage.filter((i) => i.getKeyword() === 'USER');
  const user = users.at(-1)?.getArguments()[0]?.getValue();
  if (!user) {
    findings.push({ cis: '4.1', line: finalFromLine, message: 'the final stage sets no USER, so the container runs as root; add USER <non-root uid>:<gid> (numeric, so Kubernetes runAsNonRoot can verify it)' });
  } else if (rootUser.test(user)) {
    findings.push({ cis: '4.1', line: lineOf(users.at(-1)!), message: `the final stage runs as ${user}; switch to a non-root USER` });
  }

  // 4.6 HEALTHCHECK in the image that ships.
  const healthchecks = finalStage.filter((i) => i.getKeyword() === 'HEALTHCHECK');
  const healthcheck = healthchecks.at(-1);
  if (!healthcheck) {
    findings.push({ cis: '4.6', line: finalFromLine, message: 'the final stage has no HEALTHCHECK; add HEALTHCHECK CMD <probe>' });
  } else if (healthcheck.getArguments()[0]?.getValue().toUpperCase() === 'NONE') {
    findings.push({ cis: '4.6', line: lineOf(healthcheck), message: 'HEALTHCHECK NONE disables the health check; add HEALTHCHECK CMD <probe>' });
  }

  for (const i of instructions) {
    const keyword = i.getKeyword();
    // 4.9 ADD fetching remote content: unverified bytes straight into the image.
    if (keyword === 'ADD') {
      const args = i.getArguments().map((a) => a.getValue()).filter((a) => !a.startsWith('--'));
      for (const source of args.slice(0, -1)) {
        if (remoteSource.test(source)) {
          findings.push({ cis: '4.9', line: lineOf(i), message: `ADD fetches ${source} at build time; download and verify it in a build stage (or COPY a vendored file) instead` });
        }
      }
    }
    // 4.10 secrets in ARG/ENV end up in the image config and history.
    if (keyword === 'ARG' || keyword === 'ENV') {
      const props = (i as unknown as { getProperties(): { getName(): string }[] }).getProperties();
      for (const p of props) {
        if (secretName.test(p.getName())) {
          findings.push({ cis: '4.10', line: lineOf(i), message: `${keyword} ${p.getName()} looks like a secret and would be stored in the image; use RUN --mount=type=secret at build time and a Kubernetes Secret at run time` });
        }
      }
    }
  }
  return findings.sort((a, b) => a.line - b.line);
}

export function checkDockerfileAt(path: string): Finding[] {
  return checkDockerfile(readFileSync(path, 'utf8'));
}

// `npx tsx images/cis.ts <Dockerfile>...`: print findings, exit 1 if any.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  let failed = false;
  for (const path of process.argv.slice(2)) {
    for (const f of checkDockerfileAt(path)) {
      failed = true;
      console.error(`${path}:${f.line}: CIS ${f.cis}: ${f.message}`);
    }
  }
  process.exit(failed ? 1 : 0);
}
