import { z } from 'zod';
import { routeRefSchema } from '../domain/context';
import { idSchema } from '../domain/ids';
import { sessionLimits, turnInputSchema } from '../domain/session';

/**
 * Request shapes of the routes whose handlers validate inline (bodies and query strings): here, not
 * in the handlers, so that the OpenAPI document (http/openapi.ts) can import them without pulling a
 * handler's stores and libraries into its own Lambda.
 */

/** POST /v1/sessions/{sessionId}/turns */
export const appendBody = z.strictObject({
  expectedVersion: z.number().int().min(0),
  turns: z.array(turnInputSchema).min(1).max(sessionLimits.maxTurnsPerAppend),
  /** the policy route whose summary settings apply (trigger, caps, engine); `name`, `name@3` or `name:label` */
  route: routeRefSchema.default('default'),
  /** the user the session belongs to (fixed by the first append naming one): whose long-term facts the
   * summarizer writes and whose recall scope the turns join; without it they stay in this session */
  userId: idSchema.optional(),
});

/** GET /v1/sessions/{sessionId}/events */
export const eventsQuery = z.object({
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** POST /v1/sessions/{sessionId}/tools/{toolName}/invocations */
export const invokeBody = z.strictObject({
  stepIndex: z.number().int().min(0).max(1_000_000),
  arguments: z.unknown().default({}),
  /** which policy's tool registry: `name`, `name@3` or `name:label`, as for the context request */
  route: routeRefSchema.default('default'),
});

/** GET /v1/facts */
export const searchQuery = z.object({
  userId: idSchema.optional(),
  query: z.string().max(4096).default(''),
  limit: z.coerce.number().int().min(1).max(100).default(10),
});
