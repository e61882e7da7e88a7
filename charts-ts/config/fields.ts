/**
 * Reusable config field types: each validates with a message that says what is allowed. Kept apart
 * from schema.ts so the concern sections (which schema.ts imports) can use them without an import
 * cycle.
 */
import { z } from 'zod';
import { cpuPattern, memoryPattern } from '../lib/quantity.ts';

/** The environments, each an app namespace with its own config (schema.ts `environments`). */
export const environmentNames = ['staging', 'production'] as const;
export type EnvironmentName = (typeof environmentNames)[number];

export const dnsName = z.string().regex(
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/,
  'is not a valid hostname; use a lower-case DNS name like lms.example.com',
);
/** RFC 1123 label: namespaces, object names. */
export const dnsLabel = z.string().regex(
  /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
  'is not a valid Kubernetes name; use lower-case letters, digits and "-" (max 63), e.g. lms-production',
);
export const cpu = z.string().regex(cpuPattern, 'is not a CPU quantity; use millicores like "250m" or cores like "2"');
export const memory = z.string().regex(memoryPattern, 'is not a memory quantity; use binary units like "512Mi" or "2Gi"');
export const storageSize = z.string().regex(/^\d+(Mi|Gi|Ti)$/, 'is not a storage size; use "20Gi" or "500Mi"');
export const duration = z.string().regex(/^(\d+(ms|s|m|h))+$/, 'is not a duration; use Go-style units like "30s", "5m" or "1h30m"');
export const cidr = z.string().regex(
  /^(\d{1,3}(\.\d{1,3}){3}\/\d{1,2}|[0-9a-f:]+:[0-9a-f:]*\/\d{1,3})$/,
  'is not a CIDR; use 203.0.113.0/24 or 2001:db8::/32',
);
/**
 * RFC 1918, link-local and CGNAT ranges: what an egress rule to "the public internet" excepts, so it
 * never reaches the cluster (pods, Services), the host's networks or the metadata address.
 */
export const nonPublicRanges: readonly string[] = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '100.64.0.0/10'];

export const percent = z.number().min(1, 'must be between 1 and 100').max(100, 'must be between 1 and 100');
export const semverTag = z.string().regex(/^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]+)?$/, 'is not a version; use a pinned release like "1.4.2" or "v1.4.2"');
/** A Secret is referenced by name and key only: no secret value ever lives in config. */
export const secretRef = z.object({ name: dnsLabel, key: z.string().min(1, 'must name the key inside the Secret') }).strict();

export const resources = z.object({
  requests: z.object({ cpu, memory }).strict(),
  limits: z.object({ cpu, memory }).strict(),
}).strict();
export type Resources = z.infer<typeof resources>;

/** What an image pin's parts look like (the config and `npm run bump-image` check the same). */
export const imagePatterns = {
  repository: /^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)+$/,
  tag: /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/,
  digest: /^sha256:[a-f0-9]{64}$/,
} as const;

/** A container image pinned by tag and digest; deploys use the digest, the tag is for humans. */
export const image = z.object({
  repository: z.string().regex(imagePatterns.repository, 'is not an image repository; use registry/path like ghcr.io/acme/lms-api'),
  tag: z.string().regex(imagePatterns.tag, 'is not an image tag').refine((t) => t !== 'latest', 'must not be "latest"; pin a release tag'),
  digest: z.string().regex(imagePatterns.digest, 'is not an image digest; use sha256:<64 hex characters> from the registry'),
}).strict();
export type Image = z.infer<typeof image>;
export const imageRef = (i: Image): string => `${i.repository}:${i.tag}@${i.digest}`;

/** A container port a pod listens on (never a privileged one: the pods run as non-root). */
export const port = z.number().int().min(1024, 'must be an unprivileged port (1024-65535)').max(65535, 'must be at most 65535');
/** The uid (and gid) a container's process runs as. */
export const uid = z.number().int().min(1000, 'must be a non-root uid/gid of at least 1000 (Pod Security restricted forbids 0; low ids collide with system users)').max(2 ** 31 - 1);

/** HorizontalPodAutoscaler bounds of a workload. */
export const hpa = z.object({
  min: z.number().int().min(1, 'must be at least 1 (an HPA cannot scale a Rollout to zero)'),
  max: z.number().int().min(1, 'must be at least 1'),
}).strict().refine((h) => h.max >= h.min, { message: 'max must be >= min', path: ['max'] });
export type Hpa = z.infer<typeof hpa>;

/** How a PostgreSQL client verifies the server (plaintext is never allowed). */
export const sslMode = z.enum(['require', 'verify-ca', 'verify-full'], { error: 'must be require, verify-ca or verify-full (plaintext is not allowed)' });

/** Connections one pod of a workload keeps open to PostgreSQL (counted by charts-ts/data/connection-budget.ts). */
export const poolSize = z.number().int().min(1, 'must be at least 1').max(50, 'must be at most 50 per pod (PostgreSQL max_connections is shared)');
