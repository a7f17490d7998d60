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
 * A fact's id is derived, so an upsert needs no lookup table: from (scope, key) when keyed, else from
 * (scope, whitespace-normalized text), so the same unkeyed text posted twice is one fact.
 */
export function factIdOf(input: Pick<FactInput, 'userId' | 'sessionId' | 'key' | 'text'>): string {
  const basis = input.key !== undefined ? `k\0${input.key}` : `t\0${collapse(input.text)}`;
  const digest = createHash('sha256')
    .update(`${scopeOf(input.userId, input.sessionId)}\0${basis}`)
    .digest('hex');
  return `f-${digest.slice(0, 32)}`;
}

const citationId = (c: Citation) => JSON.stringify([c.sessionId ?? null, c.seq ?? null, c.ref ?? null]);

/** Distinct citations, first occurrence kept, capped (oldest dropped first). */
export function mergeCitations(...lists: Citation[][]): Citation[] {
  const seen = new Map<string, Citation>();
  for (const c of lists.flat()) if (!seen.has(citationId(c))) seen.set(citationId(c), c);
  return [...seen.values()].slice(-factLimits.maxCitations);
}

export interface UpsertPlan {
  fact: Fact;
  /** false: the input restates the stored fact exactly; nothing to write */
  changed: boolean;
  /** true: the input landed on an existing fact (same key, or same unkeyed text) */
  deduplicated: boolean;
}

/**
 * The next version of a fact. Same text: the citations are merged (a restatement adds provenance).
 * New text: the new citations replace the old (they back the new text), unless none are given.
 */
export function planUpsert(prev: Fact | null, input: FactInput, tokens: number, now: Date): UpsertPlan {
  const at = now.toISOString();
  const given = input.citations ?? [];
  if (!prev) {
    const fact: Fact = {
      id: factIdOf(input),
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
    return { fact, changed: true, deduplicated: false };
  }
  const sameText = collapse(prev.text) === collapse(input.text);
  const citations =
    sameText || given.length === 0 ? mergeCitations(prev.citations, given) : mergeCitations(given);
  const pinned = input.pinned ?? prev.pinned;
  const changed =
    !sameText || pinned !== prev.pinned || JSON.stringify(citations) !== JSON.stringify(prev.citations);
  if (!changed) return { fact: prev, changed: false, deduplicated: true };
  const fact: Fact = {
    ...prev,
    text: sameText ? prev.text : input.text,
    citations,
    pinned,
    tokens: sameText ? prev.tokens : tokens,
    version: prev.version + 1,
    updatedAt: at,
  };
  return { fact, changed: true, deduplicated: true };
}
