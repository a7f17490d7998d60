import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Citation, Fact, FactInput } from './facts';
import { idSchema } from './ids';

/**
 * The facts API's input rules and the pure part of an upsert: which fact an input lands on, and what
 * that fact becomes. The store adds the I/O (read the old version, write the new one conditionally).
 */

export const factLimits = {
  maxTextBytes: 4 * 1024,
  maxKeyLength: 256,
  maxCitations: 32,
} as const;

export const citationSchema = z.strictObject({
  sessionId: idSchema.optional(),
  seq: z.number().int().min(0).optional(),
  ref: z.string().min(1).max(256).optional(),
});

export const factInputSchema = z.strictObject({
  userId: idSchema.optional(),
  text: z
    .string()
    .refine((s) => s.trim().length > 0, { message: 'text must not be empty' })
    .refine((s) => Buffer.byteLength(s, 'utf8') <= factLimits.maxTextBytes, {
      message: `text must be at most ${factLimits.maxTextBytes} bytes`,
    }),
  key: z.string().min(1).max(factLimits.maxKeyLength).optional(),
  citations: z.array(citationSchema).max(factLimits.maxCitations).optional(),
  pinned: z.boolean().optional(),
});

/**
 * Facts of one user, of one session appended without a user (`~<sessionId>`: '~' is in no id, so it
 * cannot meet a user id), or of the whole tenant (neither): keys are unique within a scope.
 */
export const TENANT_SCOPE = '*';
export const scopeOf = (userId?: string, sessionId?: string) =>
  userId ?? (sessionId !== undefined ? `~${sessionId}` : TENANT_SCOPE);

/** Whitespace does not make a fact different. */
const collapse = (text: string) => text.trim().replace(/\s+/g, ' ');

/**
 * A lineage's id is derived, so an upsert needs no lookup to find it: from (scope, key) when keyed,
 * else from (scope, whitespace-normalized text), so the same unkeyed text posted twice is one fact.
 */
export function lineageIdOf(input: Pick<FactInput, 'userId' | 'sessionId' | 'key' | 'text'>): string {
  const basis = input.key !== undefined ? `k\0${input.key}` : `t\0${collapse(input.text)}`;
  const digest = createHash('sha256')
    .update(`${scopeOf(input.userId, input.sessionId)}\0${basis}`)
    .digest('hex');
  return `f-${digest.slice(0, 32)}`;
}

/** A version's id: its lineage and its position, so the id alone says which value of which fact. */
export const versionIdOf = (lineageId: string, version: number) => `${lineageId}-v${version}`;

const citationId = (c: Citation) => JSON.stringify([c.sessionId ?? null, c.seq ?? null, c.ref ?? null]);

/** Distinct citations, first occurrence kept, capped (oldest dropped first). */
export function mergeCitations(...lists: Citation[][]): Citation[] {
  const seen = new Map<string, Citation>();
  for (const c of lists.flat()) if (!seen.has(citationId(c))) seen.set(citationId(c), c);
  return [...seen.values()].slice(-factLimits.maxCitations);
}

/**
 * What an upsert does to a lineage. Versions are immutable: an id names exactly one text, citation
 * list and pin, so whatever holds an id (a context's fingerprint, a cached answer, a log) keeps naming
 * what it saw.
 * - created: its first version;
 * - superseded: a new version (new id, version + 1, `supersedes`), and the current one becomes history
 *   (`validUntil`, `supersededBy`): new text, or the same text with new citations or another pin;
 * - unchanged: a restatement of the current version, nothing to write.
 * `deduplicated`: the input restates the current value (same text), whether or not it adds to it.
 */
export type UpsertPlan =
  | { outcome: 'created'; fact: Fact; deduplicated: false }
  | { outcome: 'superseded'; fact: Fact; previous: Fact; deduplicated: boolean }
  | { outcome: 'unchanged'; fact: Fact; deduplicated: true };

/**
 * The next state of a lineage whose current version is `current`. Same text: the citations are merged
 * (a restatement adds provenance). New text: the new citations replace the old (they back the new
 * text), unless none are given. Times never run backwards along a chain, whatever the clock says.
 */
export function planUpsert(current: Fact | null, input: FactInput, tokens: number, now: Date): UpsertPlan {
  const given = input.citations ?? [];
  if (!current) {
    const at = now.toISOString();
    const fact: Fact = {
      id: versionIdOf(lineageIdOf(input), 1),
      ...(input.key !== undefined ? { key: input.key } : {}),
      ...(input.userId !== undefined ? { userId: input.userId } : {}),
      ...(input.userId === undefined && input.sessionId !== undefined ? { sessionId: input.sessionId } : {}),
      text: input.text,
      citations: mergeCitations(given),
      pinned: input.pinned ?? false,
      tokens,
      version: 1,
      createdAt: at,
      updatedAt: at,
    };
    return { outcome: 'created', fact, deduplicated: false };
  }
  const sameText = collapse(current.text) === collapse(input.text);
  const pinned = input.pinned ?? current.pinned;
  const citations =
    sameText || given.length === 0 ? mergeCitations(current.citations, given) : mergeCitations(given);
  if (
    sameText &&
    pinned === current.pinned &&
    JSON.stringify(citations) === JSON.stringify(current.citations)
  )
    return { outcome: 'unchanged', fact: current, deduplicated: true };
  const at = new Date(Math.max(now.getTime(), Date.parse(current.createdAt))).toISOString();
  const version = current.version + 1;
  const { supersedes: _s, ...carried } = current;
  const fact: Fact = {
    ...carried,
    id: versionIdOf(lineageIdOf(input), version),
    // A restatement keeps the stored wording (whitespace aside it is the same text).
    text: sameText ? current.text : input.text,
    citations,
    pinned,
    tokens: sameText ? current.tokens : tokens,
    version,
    createdAt: at,
    updatedAt: at,
    supersedes: current.id,
  };
  const previous = { ...current, supersededBy: fact.id, validUntil: at };
  return { outcome: 'superseded', fact, previous, deduplicated: sameText };
}

/** `GET /v1/facts/{factId}/history`: the chain newest first, one bounded page at a time. */
export const factHistoryLimits = { defaultPage: 20, maxPage: 100 } as const;

export const factHistoryQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(factHistoryLimits.maxPage).default(factHistoryLimits.defaultPage),
  /** the page's versions are below this one: the previous page's `next` */
  before: z.coerce.number().int().min(1).max(9_999_999_999).optional(),
});

/** The lifecycle fields of a fact as the API answers them (a superseded version carries the last two). */
export const factLifecycleShape = {
  supersedes: z.string().optional(),
  supersededBy: z.string().optional(),
  validUntil: z.string().optional(),
};
