/** Config section: app workloads per environment (Redis, analysis, migrations). Schema and values. */
import { z } from 'zod';
import type { EnvironmentName } from '../schema.ts';

export const AppsEnvironment = z.object({}).strict();

export const appsValues: Record<EnvironmentName, z.input<typeof AppsEnvironment>> = {
  staging: {},
  production: {},
};
