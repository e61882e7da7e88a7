/**
 * The reference Dockerfiles against the CIS Docker Benchmark items a Dockerfile can show, checked on
 * the parsed instruction tree (images/cis.ts, dockerfile-ast). Each rule is also shown to catch
 * its violation, so a check that silently passes everything fails here.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Copy, DockerfileParser } from 'dockerfile-ast';
import { describe, expect, it } from 'vitest';
import { appsValues } from '../../charts-ts/config/sections/apps.ts';
import { values } from '../../charts-ts/config/values.ts';
import { names } from '../../charts-ts/lib/names.ts';
import type { RolloutJson } from '../support/kinds.ts';
import { renderAll } from '../support/render.ts';
import { checkDockerfile, checkDockerfileAt } from '../../images/cis.ts';

const repoRoot = resolve(import.meta.dirname, '../..');
const dockerfiles = { api: join(repoRoot, 'images/api/Dockerfile'), web: join(repoRoot, 'images/web/Dockerfile') };
const digest = `sha256:${'a'.repeat(64)}`;

describe('reference Dockerfiles', () => {
  it.each(Object.entries(dockerfiles))('%s passes the CIS checks', (_name, path) => {
    expect(checkDockerfileAt(path)).toEqual([]);
  });

  it.each(Object.entries(dockerfiles))('%s is a multi-stage build with a Node build stage', (_name, path) => {
    const froms = DockerfileParser.parse(readFileSync(path, 'utf8')).getFROMs();
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(froms[0].getImageName()).toBe('node');
    expect(froms[0].getImageTag()).toMatch(/^24\./); // Node 24 LTS (Node 20 is out of support)
  });

  it('the API runs on distroless Node as the pods\' uid, on the configured port, probing the pods\' liveness path', () => {
    const d = DockerfileParser.parse(readFileSync(dockerfiles.api, 'utf8'));
    const final = d.getFROMs().at(-1)!;
    expect(`${final.getRegistry()}/${final.getImageName()}`).toBe('gcr.io/distroless/nodejs24-debian12');
    const keywords = d.getInstructions().filter((i) => i.getRange().start.line > final.getRange().start.line);
    const uid = appsValues.production.api.runAsUser;
    expect(keywords.find((i) => i.getKeyword() === 'USER')!.getArguments()[0].getValue()).toBe(`${uid}:${uid}`);
    const port = values.environments.production.apps.api.port;
    expect(keywords.find((i) => i.getKeyword() === 'EXPOSE')!.getArguments()[0].getValue()).toBe(String(port));
    // The same endpoint the Rollout's liveness probe uses.
    const rollout = renderAll().getOf<RolloutJson>('argoproj.io', 'Rollout', names.apps.api, values.environments.production.namespace);
    const container = rollout.spec.template.spec.containers.find((c) => c.name === 'api')!;
    expect(keywords.find((i) => i.getKeyword() === 'HEALTHCHECK')!.getRawArgumentsContent()).toContain(`127.0.0.1:${port}${container.livenessProbe!.httpGet!.path}'`);
  });

  it('the web image runs unprivileged Nginx with this repository\'s nginx.conf on the configured port', () => {
    const d = DockerfileParser.parse(readFileSync(dockerfiles.web, 'utf8'));
    const final = d.getFROMs().at(-1)!;
    expect(final.getImageName()).toBe('nginxinc/nginx-unprivileged');
    const tail = d.getInstructions().filter((i) => i.getRange().start.line > final.getRange().start.line);
    const copies = tail.filter((i): i is Copy => i instanceof Copy)
      .map((c) => [c.getFromFlag()?.getValue(), ...c.getArguments().map((a) => a.getValue())]);
    expect(copies).toContainEqual(['reference', 'nginx.conf', '/etc/nginx/nginx.conf']);
    const port = values.environments.production.apps.web.port;
    expect(tail.find((i) => i.getKeyword() === 'EXPOSE')!.getArguments()[0].getValue()).toBe(String(port));
    expect(tail.find((i) => i.getKeyword() === 'HEALTHCHECK')!.getRawArgumentsContent()).toContain(`"http://127.0.0.1:${port}${appsValues.production.web.probePath}"`);
    const uid = appsValues.production.web.runAsUser;
    expect(tail.find((i) => i.getKeyword() === 'USER')!.getArguments()[0].getValue()).toBe(`${uid}:${uid}`);
  });
});

describe('CIS checks catch each violation', () => {
  const good = [
    `FROM node:20@${digest} AS build`,
    'RUN npm ci',
    `FROM gcr.io/distroless/nodejs20-debian12:nonroot@${digest}`,
    'COPY --from=build /app /app',
    'USER 65532:65532',
    'HEALTHCHECK CMD ["/nodejs/bin/node", "/app/health.js"]',
    'CMD ["/app/main.js"]',
  ];
  const without = (pred: (l: string) => boolean) => good.filter((l) => !pred(l)).join('\n');
  const codes = (text: string) => checkDockerfile(text).map((f) => f.cis);

  it('accepts the well-formed example', () => {
    expect(checkDockerfile(good.join('\n'))).toEqual([]);
  });

  it('4.1: no USER in the final stage, or USER root / 0', () => {
    expect(codes(without((l) => l.startsWith('USER')))).toEqual(['4.1']);
    expect(codes(good.join('\n').replace('USER 65532:65532', 'USER root'))).toEqual(['4.1']);
    expect(codes(good.join('\n').replace('USER 65532:65532', 'USER 0:0'))).toEqual(['4.1']);
    // A USER in the build stage does not count for the image that ships.
    const onlyInBuild = without((l) => l.startsWith('USER')).replace('RUN npm ci', 'USER node\nRUN npm ci');
    expect(codes(onlyInBuild)).toEqual(['4.1']);
    // Switching back to root at the end is caught.
    expect(codes(`${good.join('\n')}\nUSER root`)).toEqual(['4.1']);
  });

  it('4.6: no HEALTHCHECK, or HEALTHCHECK NONE', () => {
    expect(codes(without((l) => l.startsWith('HEALTHCHECK')))).toEqual(['4.6']);
    expect(codes(good.join('\n').replace(/HEALTHCHECK .*/, 'HEALTHCHECK NONE'))).toEqual(['4.6']);
  });

  it('4.2: a base image without a digest (a stage reference needs none)', () => {
    const findings = checkDockerfile(good.join('\n').replace(`node:20@${digest}`, 'node:20'));
    expect(findings).toEqual([expect.objectContaining({ cis: '4.2', line: 1, message: expect.stringMatching(/node:20 is not pinned by digest/) })]);
    expect(codes(good.join('\n').replace(`node:20@${digest}`, 'node@sha256:abc'))).toEqual(['4.2']);
    expect(codes(`${good.join('\n')}\nFROM build AS test\nUSER 1000\nHEALTHCHECK CMD ["true"]`)).toEqual([]);
  });

  it('4.9: ADD from a URL or git, but not ADD of a local file', () => {
    expect(codes(good.join('\n').replace('RUN npm ci', 'ADD https://example.com/tool.tgz /opt/'))).toEqual(['4.9']);
    expect(codes(good.join('\n').replace('RUN npm ci', 'ADD --chown=1000 https://github.com/acme/repo.git /src'))).toEqual(['4.9']);
    expect(codes(good.join('\n').replace('RUN npm ci', 'ADD vendor.tgz /opt/'))).toEqual([]);
  });

  it('4.10: secrets in ARG or ENV, in any stage', () => {
    expect(codes(good.join('\n').replace('RUN npm ci', 'ARG NPM_TOKEN\nRUN npm ci'))).toEqual(['4.10']);
    expect(codes(good.join('\n').replace('USER 65532:65532', 'ENV NODE_ENV=production DB_PASSWORD=hunter2\nUSER 65532:65532'))).toEqual(['4.10']);
    expect(codes(good.join('\n').replace('USER 65532:65532', 'ENV AWS_SECRET_ACCESS_KEY=x\nUSER 65532:65532'))).toEqual(['4.10']);
    expect(codes(good.join('\n').replace('RUN npm ci', 'ARG BUILD_OUTPUT=dist\nRUN npm ci'))).toEqual([]);
  });

  it('reports line numbers of the offending instruction', () => {
    const f = checkDockerfile(good.join('\n').replace('RUN npm ci', 'ADD https://example.com/x /x'));
    expect(f[0].line).toBe(2);
  });
});
