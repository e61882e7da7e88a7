/** Config section: observability (cluster-wide). Schema and the values used, in one place. */
import { z } from 'zod';

export const ObservabilitySettings = z.object({}).strict();

export const observabilityValues: z.input<typeof ObservabilitySettings> = {};
