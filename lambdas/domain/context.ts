import { z } from 'zod';
import type { Fact } from './facts';
import { idSchema } from './ids';
import { labelSchema, routeSchema } from './policy';
import type { FactQuery } from './retrieval';
import type { SessionRef, SessionState } from './session';
import { parseWith } from './validation';

/**
 * The Context Builder's vocabulary: the request it answers, the narrow ports of the stores it reads
 * (so this code never depends on the store adapters), and the sources its budget is split over.
 */

/** The sources of a context, in the order their content appears in `messages`. */
export const sources = ['system', 'profile', 'facts', 'summary', 'recall', 'history', 'input'] as const;
export type Source = (typeof sources)[number];
export type Caps = Record<Source | 'total', number>;

const tokens = z.number().int().min(0).max(1_000_000);

/** An input above this many UTF-8 bytes is refused (413) before it is tokenized: counting is linear,
 * but not free, and no policy's input cap needs more (64 KiB is ~16,000 tokens of prose). */
export const MAX_INPUT_BYTES = 64 * 1024;

/**
 * A policy reference as a request names it: `name` (latest), `name@<version>` (immutable) or
 * `name:<label>` (movable). The pattern says in the schema (and so in the OpenAPI document) what
 * parseRouteRef checks; parseRouteRef still runs and names the part at fault.
 */
export const routeRefSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(
    /^[a-z0-9][a-z0-9-]{0,63}(?:@(?:[1-9]\d{0,5}|1000000)|:[A-Za-z][A-Za-z0-9_.-]{0,99})?$/,
    '`name`, `name@<version>` or `name:<label>`',
  );

export const contextRequestSchema = z.strictObject({
  /** `name` (latest), `name@<version>` (immutable) or `name:<label>` (movable) */
  route: routeRefSchema,
  input: z
    .string()
    .min(1)
    .refine((s) => s.trim().length > 0, 'input must not be blank'),
  userId: idSchema.optional(),
  /** lowers the policy's caps for this request; a cap above the policy's is clamped (and said so) */
  budget: z
    .strictObject({
      total: tokens.optional(),
      system: tokens.optional(),
      summary: tokens.optional(),
      history: tokens.optional(),
      facts: tokens.optional(),
      profile: tokens.optional(),
      recall: tokens.optional(),
      input: tokens.optional(),
    })
    .optional(),
});
export type ContextRequest = z.infer<typeof contextRequestSchema>;

/** Which version of a route's policy: a number (immutable), a label (movable), or the latest. */
export type PolicySelector = { version: number } | { label: string } | { latest: true };
export interface RouteRef {
  name: string;
  selector: PolicySelector;
}

const routeRefPattern = /^([^@:]+)(?:@(\d+)|:(.+))?$/;

/** Parses `name`, `name@3` or `name:prod`; a bad one is a 400 naming `route`. */
export function parseRouteRef(raw: string): RouteRef {
  const m = routeRefPattern.exec(raw);
  const name = parseWith(routeSchema, m?.[1] ?? raw, 'route');
  if (m?.[2] !== undefined) {
    const version = parseWith(z.coerce.number().int().min(1).max(1_000_000), m[2], 'route');
    return { name, selector: { version } };
  }
  if (m?.[3] !== undefined) return { name, selector: { label: parseWith(labelSchema, m[3], 'route') } };
  return { name, selector: { latest: true } };
}

export const routeRefString = (ref: RouteRef): string =>
  'version' in ref.selector
    ? `${ref.name}@${ref.selector.version}`
    : 'label' in ref.selector
      ? `${ref.name}:${ref.selector.label}`
      : ref.name;

/** What the builder needs of a fact. */
export type RetrievedFact = Pick<Fact, 'id' | 'version' | 'text' | 'tokens' | 'citations' | 'pinned'>;

/** Port: top-K facts for a query, best first, deterministic (ties broken by id). */
export interface FactSearcher {
  search(tenantId: string, query: FactQuery): Promise<{ fact: RetrievedFact; score: number }[]>;
}

/** A user's profile as the builder reads it: one pre-rendered line per attribute, tokens counted at write time. */
export interface ProfileView {
  userId: string;
  version: number;
  lines: Record<string, { text: string; tokens: number }>;
}

/** Port: a user's profile, or null when there is none. */
export interface ProfileReader {
  get(tenantId: string, userId: string): Promise<ProfileView | null>;
}

/** Port: the session item (summary and recent turns), or null when the session does not exist yet. */
export interface SessionReader {
  get(ref: SessionRef): Promise<SessionState | null>;
}
