/** Config section: platform (cluster-wide). Schema and the values used, in one place. */
import { z } from 'zod';

export const PlatformSettings = z.object({}).strict();

export const platformValues: z.input<typeof PlatformSettings> = {};
