/** Config section: data layer (CloudNativePG, backups). Cluster-wide settings and per-environment database. */
import { z } from 'zod';
import type { EnvironmentName } from '../schema.ts';

export const DataSettings = z.object({}).strict();
export const dataValues: z.input<typeof DataSettings> = {};

export const DatabaseEnvironment = z.object({
  /** PostgreSQL volume size. */
  storageSize: z.string().regex(/^\d+(Mi|Gi|Ti)$/, 'is not a storage size; use "20Gi"'),
}).strict();

export const databaseValues: Record<EnvironmentName, z.input<typeof DatabaseEnvironment>> = {
  staging: { storageSize: '5Gi' },
  production: { storageSize: '30Gi' },
};
