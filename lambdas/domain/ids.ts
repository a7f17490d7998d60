import { z } from 'zod';

/** Ids that go into keys: no '#' (our key separator), bounded length. */
export const idSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:@-]+$/, 'only letters, digits and . _ : @ - are allowed');

export const tenantIdSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and - only');
