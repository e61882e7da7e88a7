/** Config section: cost (cluster-wide). Schema and the values used, in one place. */
import { z } from 'zod';

export const CostSettings = z.object({}).strict();

export const costValues: z.input<typeof CostSettings> = {};
