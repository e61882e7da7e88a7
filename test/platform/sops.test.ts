/**
 * Secrets with SOPS + age: every committed Secret file is encrypted for the recipients in .sops.yaml
 * (no plaintext, SOPS metadata present, names and keys as the inventory says), the checker catches
 * each way a file can be wrong, and the .sops.yaml rules work with the real `sops` and `age` tools:
 * a throw-away age key encrypts and decrypts a sample, only `data`/`stringData` get encrypted, files
 * outside the rule are refused, and tampering is detected.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { $ } from 'zx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../charts-ts/lib/crds.ts';
import { secretsPath } from '../../charts-ts/platform/flux-layers.ts';
import { kustomizationFor, placeholderManifest, sopsEncryptTo } from '../../charts-ts/platform/secrets-cli.ts';
import { secretFile, secretInventory, type SopsSecret } from '../../charts-ts/platform/secrets.ts';
import { checkEncryptedSecret, checkSecretFiles, encryptedValue, readSopsRules } from '../../charts-ts/platform/sops-files.ts';
import { renderAll } from '../support/render.ts';

process.env.PATH = `${repoRoot}/.cache/bin:${process.env.PATH}`;
$.quiet = true;

const inventory = secretInventory(renderAll().config);

describe('the committed Secret files', () => {
  it('are all encrypted for .sops.yaml\'s recipients and match the inventory', () => {
    expect(checkSecretFiles(repoRoot, inventory)).toEqual([]);
  });

  it('cover what the other layers reference: Redis and object storage per app namespace, Alertmanager, cert-manager, Flux', () => {
    const r = renderAll();
    const have = new Set(inventory.map((s) => `${s.namespace}/${s.name}`));
    for (const env of Object.values(r.config.environments)) {
      expect(have).toContain(`${env.namespace}/redis-auth`);
      expect(have).toContain(`${env.namespace}/${r.config.cluster.objectStorage.credentialsSecret}`);
    }
    for (const ref of [r.config.cluster.alerting.slackWebhook, r.config.cluster.alerting.pagerdutyRoutingKey, r.config.cluster.alerting.heartbeatUrl]) {
      expect(have).toContain(`monitoring/${ref.name}`);
    }
    expect(have).toContain('cert-manager/cloudflare-api-token');
  });

  it('carry no plaintext value, as sops itself reports (sops filestatus)', async () => {
    for (const s of inventory) {
      const out = await $({ cwd: repoRoot })`sops filestatus ${secretFile(s)}`;
      expect(JSON.parse(out.stdout), secretFile(s)).toEqual({ encrypted: true });
    }
  });
});

describe('the file checker', () => {
  const rules = readSopsRules(repoRoot);
  const spec = inventory.find((s) => s.name === 'redis-auth')!;
  const committed = readFileSync(join(repoRoot, secretFile(spec)), 'utf8');
  /** The fields of the committed SOPS file the edits change. */
  interface SopsFile { metadata: { name: string }; stringData: Record<string, string>; sops: { age: { recipient: string }[]; encrypted_regex: string } }
  const edit = (f: (o: SopsFile) => void) => {
    const o = parse(committed);
    f(o);
    return stringify(o);
  };

  it('accepts the committed file', () => {
    expect(checkEncryptedSecret(committed, 'f', rules, spec)).toEqual([]);
  });
  it('rejects a plaintext Secret', () => {
    const plain = placeholderManifest(spec);
    const problems = checkEncryptedSecret(plain, 'f', rules, spec);
    expect(problems).toContain('f: no SOPS metadata (sops.mac, sops.lastmodified): the file is not encrypted; encrypt it with `sops encrypt --in-place f`');
    expect(problems.some((p) => p.startsWith('f: value of "password" is plaintext'))).toBe(true);
  });
  it('rejects one plaintext value in an otherwise encrypted file', () => {
    expect(checkEncryptedSecret(edit((o) => { o.stringData.password = 'hunter2'; }), 'f', rules, spec))
      .toEqual(['f: value of "password" is plaintext; never commit secret values unencrypted (sops encrypt --in-place f)']);
  });
  it('rejects files encrypted for other recipients or with other rules', () => {
    const other = edit((o) => { o.sops.age[0].recipient = 'age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq'; o.sops.encrypted_regex = '^data$'; });
    const problems = checkEncryptedSecret(other, 'f', rules, spec);
    expect(problems.some((p) => p.includes('encrypted for age recipients [age1qqq'))).toBe(true);
    expect(problems.some((p) => p.includes('encrypted_regex "^data$"'))).toBe(true);
  });
  it('rejects names and keys that differ from the inventory', () => {
    const renamed = edit((o) => { o.metadata.name = 'redis'; o.stringData = { pass: o.stringData.password }; });
    expect(checkEncryptedSecret(renamed, 'f', rules, spec)).toEqual([
      `f: metadata is ${spec.namespace}/redis, expected ${spec.namespace}/redis-auth (the path names it)`,
      'f: keys [pass] differ from the inventory [password] (charts-ts/platform/secrets.ts)',
    ]);
  });
  it('reports missing, stray and unlisted files in a checkout', () => {
    const root = mkdtempSync(join(tmpdir(), 'lms-secrets-'));
    try {
      cpSync(join(repoRoot, '.sops.yaml'), join(root, '.sops.yaml'));
      cpSync(join(repoRoot, secretsPath), join(root, secretsPath), { recursive: true });
      rmSync(join(root, secretFile(spec)));
      writeFileSync(join(root, secretsPath, 'notes.txt'), 'x');
      writeFileSync(join(root, secretsPath, 'monitoring', 'grafana.enc.yaml'), committed);
      const problems = checkSecretFiles(root, inventory);
      expect(problems).toEqual(expect.arrayContaining([
        `${secretsPath}/notes.txt: only encrypted Secrets (<namespace>/<name>.enc.yaml) belong in ${secretsPath}/`,
        `${secretsPath}/monitoring/grafana.enc.yaml: not in the inventory (charts-ts/platform/secrets.ts); add it there or delete the file`,
        `${secretFile(spec)}: missing; create it with \`npm run secrets -- scaffold\`, then set real values with \`sops edit ${secretFile(spec)}\``,
      ]));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('.sops.yaml with the real sops and age, using a throw-away key', () => {
  let root: string;
  let keyFile: string;
  let recipient: string;
  const sample: SopsSecret = {
    namespace: 'lms-staging', name: 'sample', usedBy: 'this test',
    keys: [{ name: 'password', value: 'random', hint: '' }, { name: 'url', value: 'external', hint: '' }],
  };

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'lms-sops-'));
    keyFile = join(root, 'throwaway.agekey');
    await $`age-keygen -o ${keyFile}`;
    recipient = /public key: (age1[0-9a-z]+)/.exec(readFileSync(keyFile, 'utf8'))![1];
    // The repository's rules, with only the recipient swapped for the throw-away key.
    const config = parse(readFileSync(join(repoRoot, '.sops.yaml'), 'utf8'));
    for (const rule of config.creation_rules) rule.age = recipient;
    writeFileSync(join(root, '.sops.yaml'), stringify(config));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('encrypts only Secret values; decrypting gives the original back', async () => {
    const plaintext = placeholderManifest(sample);
    const path = secretFile(sample);
    await sopsEncryptTo(root, path, plaintext);
    const encrypted = readFileSync(join(root, path), 'utf8');
    expect(checkEncryptedSecret(encrypted, path, readSopsRules(root), sample)).toEqual([]);
    const o = parse(encrypted);
    // Kind, names, labels and key names stay readable for review and kustomize; values do not.
    expect(o.metadata).toEqual(parse(plaintext).metadata);
    for (const v of Object.values(o.stringData)) expect(String(v)).toMatch(encryptedValue);
    expect(encrypted).not.toContain(parse(plaintext).stringData.password);
    const decrypted = await $({ cwd: root, env: { ...process.env, SOPS_AGE_KEY_FILE: keyFile } })`sops decrypt ${path}`;
    expect(parse(decrypted.stdout)).toEqual(parse(plaintext));
  });

  it('cannot decrypt without the key', async () => {
    const path = secretFile(sample);
    const other = join(root, 'other.agekey');
    await $`age-keygen -o ${other}`;
    const run = await $({ cwd: root, nothrow: true, env: { ...process.env, SOPS_AGE_KEY_FILE: other } })`sops decrypt ${path}`;
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).toMatch(/Failed to get the data key|no identity matched/i);
  });

  it('detects a tampered value (MAC mismatch)', async () => {
    const path = secretFile(sample);
    const text = readFileSync(join(root, path), 'utf8');
    const o = parse(text);
    // Swap in another value that is itself validly encrypted: only the MAC can tell.
    const tampered = text.replace(o.stringData.password, o.stringData.url);
    expect(tampered).not.toBe(text);
    const file = join(root, secretsPath, 'lms-staging', 'tampered.enc.yaml');
    writeFileSync(file, tampered);
    const run = await $({ cwd: root, nothrow: true, env: { ...process.env, SOPS_AGE_KEY_FILE: keyFile } })`sops decrypt ${file}`;
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).toMatch(/MAC mismatch|Error decrypting|could not decrypt/i);
  });

  it('refuses to encrypt files outside the Secrets directory (no matching rule)', async () => {
    mkdirSync(join(root, 'charts-ts'), { recursive: true });
    await expect(sopsEncryptTo(root, 'charts-ts/leak.enc.yaml', placeholderManifest(sample))).rejects.toThrow(/no matching creation rules/);
  });

  it('the scaffolded kustomization lists every file of the inventory', () => {
    const k = parse(kustomizationFor(inventory));
    expect(k.resources).toEqual(inventory.map((s) => secretFile(s).slice(secretsPath.length + 1)).sort());
  });
});
