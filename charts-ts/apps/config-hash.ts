/**
 * A pod template annotation with the hash of the configuration it reads, so a ConfigMap change
 * rolls out through the canary like an image change (the ConfigMap keeps its stable name).
 */
import { createHash } from 'node:crypto';

export const configHashAnnotation = 'lms.dev/config-hash';

export function configHash(data: Record<string, string>): string {
  const canonical = JSON.stringify(Object.keys(data).sort().map((k) => [k, data[k]]));
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}
