/**
 * Credentials come from environment variables only (a CI secret, or the operator's shell); they are
 * never read from config or written anywhere. A step checks all of its variables before its first
 * request and names every missing one with where to get it.
 */
import { BootstrapError, type StepContext } from './context.ts';

export interface CredentialSpec {
  readonly name: string;
  /** Where the value comes from, shown when it is missing. */
  readonly source: string;
}

export const contaboCredentials: readonly CredentialSpec[] = [
  { name: 'CONTABO_CLIENT_ID', source: 'ClientId at https://my.contabo.com/api/details' },
  { name: 'CONTABO_CLIENT_SECRET', source: 'ClientSecret at https://my.contabo.com/api/details' },
  { name: 'CONTABO_API_USER', source: 'API User (the e-mail address) at https://my.contabo.com/api/details' },
  { name: 'CONTABO_API_PASSWORD', source: 'API Password set at https://my.contabo.com/api/details' },
];

export const cloudflareCredentials: readonly CredentialSpec[] = [
  {
    name: 'CLOUDFLARE_API_TOKEN',
    source: 'an API token scoped to the zone with Zone:Read, DNS:Edit, Zone Settings:Edit, Zone WAF:Edit (https://dash.cloudflare.com/profile/api-tokens)',
  },
];

export const objectStorageCredentials: readonly CredentialSpec[] = [
  { name: 'AWS_ACCESS_KEY_ID', source: 'Object Storage access key (https://my.contabo.com/storage/object-storage, "S3 credentials")' },
  { name: 'AWS_SECRET_ACCESS_KEY', source: 'Object Storage secret key (same page)' },
];

export const sopsAgeCredentials: readonly CredentialSpec[] = [
  { name: 'SOPS_AGE_KEY_FILE', source: 'path to the cluster age private key (AGE-SECRET-KEY-1...), kept in the team password manager' },
];

/**
 * Reads the variables a step needs. In dry-run mode missing ones are only reported (the plan needs no
 * credentials); otherwise all missing ones fail together in one error.
 */
export function requireCredentials(ctx: StepContext, step: string, specs: readonly CredentialSpec[]): Record<string, string> {
  const values: Record<string, string> = {};
  const missing: CredentialSpec[] = [];
  for (const s of specs) {
    const v = ctx.env[s.name];
    if (v === undefined || v.trim() === '') missing.push(s);
    else values[s.name] = v;
  }
  if (missing.length === 0) return values;
  const list = missing.map((s) => `  ${s.name}: ${s.source}`).join('\n');
  if (ctx.dryRun) {
    ctx.out.warn(`${step}: not set (needed for a real run):\n${list}`);
    return values;
  }
  throw new BootstrapError(
    `${step}: missing credentials:\n${list}`,
    'export the variables (or add them as repository secrets for CI) and run the step again',
  );
}
