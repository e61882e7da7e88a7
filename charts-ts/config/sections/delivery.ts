/** Config section: delivery (cluster-wide). Schema and the values used, in one place. */
import { z } from 'zod';

export const DeliverySettings = z.object({}).strict();

export const deliveryValues: z.input<typeof DeliverySettings> = {};
