/** Config section: bootstrap (cluster-wide). Schema and the values used, in one place. */
import { z } from 'zod';

export const BootstrapSettings = z.object({}).strict();

export const bootstrapValues: z.input<typeof BootstrapSettings> = {};
