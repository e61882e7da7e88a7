/**
 * Checks the SOPS-encrypted Secret files against the inventory (secrets.ts) and .sops.yaml without
 * decrypting anything: every file is encrypted (no plaintext value, SOPS metadata present, for the
 * current recipients), names and keys match the inventory, no stray files, and the kustomization
 * lists exactly these files. Used by `npm run secrets -- check` and the tests.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { secretsPath } from './flux-layers.ts';
import { secretFile, type SopsSecret } from './secrets.ts';

/** sops' encrypted value: ENC[AES256_GCM,data:...,iv:...,tag:...,type:str]. */
export const encryptedValue = /^ENC\[AES256_GCM,data:[A-Za-z0-9+/=]*,iv:[A-Za-z0-9+/=]+,tag:[A-Za-z0-9+/=]+,type:(str|int|float|bool|bytes)\]$/;
export const requiredEncryptedRegex = '^(data|stringData)$';

export interface SopsRules {
  readonly pathRegex: string;
  readonly encryptedRegex: string;
  readonly ageRecipients: string[];
}

/** The creation rule of .sops.yaml that covers the Secrets directory. */
export function readSopsRules(repoRoot: string): SopsRules {
  const file = join(repoRoot, '.sops.yaml');
  const doc = parse(readFileSync(file, 'utf8')) as { creation_rules?: Array<Record<string, unknown>> };
  const rules = doc?.creation_rules ?? [];
  const probe = `${secretsPath}/example/example.enc.yaml`;
  const rule = rules.find((r) => typeof r.path_regex === 'string' && new RegExp(r.path_regex).test(probe));
  if (!rule) throw new Error(`.sops.yaml: no creation_rules entry whose path_regex matches ${probe}; add one (docs/secrets.md)`);
  const age = String(rule.age ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return { pathRegex: String(rule.path_regex), encryptedRegex: String(rule.encrypted_regex ?? ''), ageRecipients: age };
}

const listFiles = (dir: string): string[] =>
  !existsSync(dir) ? [] : readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? listFiles(p) : [p];
  });

/** Problems with one encrypted Secret file's content (empty when fine). */
export function checkEncryptedSecret(text: string, file: string, rules: SopsRules, expected?: SopsSecret): string[] {
  const problems: string[] = [];
  const docs = parseAllDocuments(text);
  if (docs.length !== 1) return [`${file}: must hold exactly one Secret, found ${docs.length} YAML documents`];
  // Parsed YAML: every field is checked before it is trusted.
  const o = docs[0].toJSON() as {
    kind?: unknown; apiVersion?: unknown; metadata?: { name?: unknown; namespace?: unknown };
    data?: Record<string, unknown>; stringData?: Record<string, unknown>;
    sops?: Record<string, unknown> & { age?: { recipient?: string }[] };
  } | null;
  if (o?.kind !== 'Secret' || o?.apiVersion !== 'v1') problems.push(`${file}: must be a v1 Secret, found ${o?.apiVersion}/${o?.kind}`);
  const sops = o?.sops;
  if (!sops || typeof sops !== 'object' || !sops.mac || !sops.lastmodified) {
    problems.push(`${file}: no SOPS metadata (sops.mac, sops.lastmodified): the file is not encrypted; encrypt it with \`sops encrypt --in-place ${file}\``);
  } else {
    if (sops.encrypted_regex !== requiredEncryptedRegex) {
      problems.push(`${file}: encrypted with encrypted_regex ${JSON.stringify(sops.encrypted_regex)}, expected ${requiredEncryptedRegex}; re-encrypt with the rules in .sops.yaml`);
    }
    const recipients = (sops.age ?? []).map((a) => a.recipient ?? '').sort();
    const want = [...rules.ageRecipients].sort();
    if (JSON.stringify(recipients) !== JSON.stringify(want)) {
      problems.push(`${file}: encrypted for age recipients [${recipients.join(', ')}] but .sops.yaml lists [${want.join(', ')}]; run \`sops updatekeys ${file}\` (or re-create it)`);
    }
    if (!encryptedValue.test(String(sops.mac))) problems.push(`${file}: sops.mac is not an encrypted MAC`);
  }
  const values = { ...(o?.data ?? {}), ...(o?.stringData ?? {}) } as Record<string, unknown>;
  for (const [k, v] of Object.entries(values)) {
    if (!encryptedValue.test(String(v))) problems.push(`${file}: value of "${k}" is plaintext; never commit secret values unencrypted (sops encrypt --in-place ${file})`);
  }
  for (const field of Object.keys(o ?? {})) {
    if (!['apiVersion', 'kind', 'metadata', 'type', 'data', 'stringData', 'immutable', 'sops'].includes(field)) {
      problems.push(`${file}: unexpected top-level field "${field}"`);
    }
  }
  if (expected) {
    if (o?.metadata?.name !== expected.name || o?.metadata?.namespace !== expected.namespace) {
      problems.push(`${file}: metadata is ${o?.metadata?.namespace}/${o?.metadata?.name}, expected ${expected.namespace}/${expected.name} (the path names it)`);
    }
    const have = Object.keys(values).sort();
    const want = expected.keys.map((k) => k.name).sort();
    if (JSON.stringify(have) !== JSON.stringify(want)) {
      problems.push(`${file}: keys [${have.join(', ')}] differ from the inventory [${want.join(', ')}] (charts-ts/platform/secrets.ts)`);
    }
  }
  return problems;
}

/** Everything wrong with the Secrets directory of a repository checkout. */
export function checkSecretFiles(repoRoot: string, inventory: SopsSecret[]): string[] {
  const problems: string[] = [];
  const rules = readSopsRules(repoRoot);
  if (rules.encryptedRegex !== requiredEncryptedRegex) {
    problems.push(`.sops.yaml: encrypted_regex is ${JSON.stringify(rules.encryptedRegex)}; it must be ${requiredEncryptedRegex} so only Secret values are encrypted`);
  }
  if (rules.ageRecipients.length === 0 || rules.ageRecipients.some((r) => !/^age1[0-9a-z]{58}$/.test(r))) {
    problems.push(`.sops.yaml: age recipients must be age1... public keys, found ${JSON.stringify(rules.ageRecipients)}`);
  }
  const expected = new Map(inventory.map((s) => [secretFile(s), s]));
  const dir = join(repoRoot, secretsPath);
  const present = listFiles(dir).map((p) => relative(repoRoot, p));
  for (const path of present) {
    if (path === `${secretsPath}/kustomization.yaml`) continue;
    if (!path.endsWith('.enc.yaml')) {
      problems.push(`${path}: only encrypted Secrets (<namespace>/<name>.enc.yaml) belong in ${secretsPath}/`);
      continue;
    }
    const spec = expected.get(path);
    if (!spec) problems.push(`${path}: not in the inventory (charts-ts/platform/secrets.ts); add it there or delete the file`);
    if (!new RegExp(rules.pathRegex).test(path)) problems.push(`${path}: not covered by the .sops.yaml path_regex ${rules.pathRegex}`);
    problems.push(...checkEncryptedSecret(readFileSync(join(repoRoot, path), 'utf8'), path, rules, spec));
  }
  for (const path of expected.keys()) {
    if (!present.includes(path)) problems.push(`${path}: missing; create it with \`npm run secrets -- scaffold\`, then set real values with \`sops edit ${path}\``);
  }
  const kustomization = join(dir, 'kustomization.yaml');
  if (!existsSync(kustomization)) {
    problems.push(`${secretsPath}/kustomization.yaml: missing; \`npm run secrets -- scaffold\` writes it`);
  } else {
    const listed = ((parse(readFileSync(kustomization, 'utf8'))?.resources ?? []) as string[]).map((r) => `${secretsPath}/${r}`).sort();
    const want = [...expected.keys()].sort();
    if (JSON.stringify(listed) !== JSON.stringify(want)) {
      problems.push(`${secretsPath}/kustomization.yaml: resources differ from the inventory; run \`npm run secrets -- scaffold\` to rewrite it`);
    }
  }
  return problems;
}
