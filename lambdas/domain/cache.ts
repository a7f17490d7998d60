import { createHash } from 'node:crypto';
import { z } from 'zod';
import { idSchema } from './ids';

/**
 * The output cache's rules: an answer is stored under (normalized question, state fingerprint), so
 * any state change (new fingerprint) misses; an entry tied to a session also misses once that
 * session's version moved, even when a client asks with an old fingerprint.
 */

export const cacheLimits = {
  maxQuestionLength: 4096,
  maxFingerprintLength: 256,
  maxTtlSeconds: 7 * 24 * 3600,
  defaultTtlSeconds: 3600,
} as const;

/** Lowercase, trim, collapse whitespace, strip trailing punctuation: 'What is X ?' = 'what is x'. */
export function normalizeQuestion(question: string): string {
  return question
    .normalize('NFKC')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[\s\p{P}]+$/u, '');
}

/** The digest the entry is keyed by (the raw strings stay in the item to guard against collisions). */
export function cacheDigest(normalizedQuestion: string, fingerprint: string): string {
  return createHash('sha256').update(`${normalizedQuestion}\n${fingerprint}`).digest('hex');
}

const fingerprintSchema = z
  .string()
  .min(1)
  .max(cacheLimits.maxFingerprintLength)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

const questionSchema = z
  .string()
  .max(cacheLimits.maxQuestionLength)
  .refine((q) => normalizeQuestion(q).length > 0, { message: 'question must have words' });

export const cachePutSchema = z
  .strictObject({
    question: questionSchema,
    fingerprint: fingerprintSchema,
    answer: z.union([z.string().min(1), z.record(z.string(), z.unknown())]),
    ttlSeconds: z.number().int().min(1).max(cacheLimits.maxTtlSeconds).optional(),
    sessionId: idSchema.optional(),
    /** the context response's `sessionStamp`: the session state the answer was built on */
    sessionStamp: z
      .string()
      .regex(/^\d+\.\d+$/, 'the sessionStamp of the context the answer was built on')
      .optional(),
  })
  .superRefine((v, ctx) => {
    // Stamped at PUT time, an answer built on version 1 and stored after version 2 landed would be
    // served for version 2: the client says which state it used.
    if (v.sessionId !== undefined && v.sessionStamp === undefined)
      ctx.addIssue({ code: 'custom', path: ['sessionStamp'], message: 'required with sessionId' });
  });

export const cacheGetSchema = z.object({ question: questionSchema, fingerprint: fingerprintSchema });

export type CacheAnswer = string | Record<string, unknown>;

export interface CacheEntryInput {
  question: string;
  fingerprint: string;
  answer: CacheAnswer;
  ttlSeconds?: number;
  sessionId?: string;
  sessionStamp?: string;
}

export interface CacheEntry {
  /** normalized */
  question: string;
  fingerprint: string;
  answer: CacheAnswer;
  sessionId?: string;
  /** the session's content stamp (domain/session.ts sessionStamp) the answer was built on */
  sessionStamp?: string;
  createdAt: string;
  /** epoch seconds (DynamoDB TTL) */
  expiresAt: number;
}

/** Why a stored entry cannot be served, or null when it can. */
export function staleReason(
  entry: CacheEntry,
  nowSeconds: number,
  currentSessionStamp?: string,
): 'expired' | 'session_changed' | null {
  if (entry.expiresAt <= nowSeconds) return 'expired';
  if (entry.sessionId !== undefined && currentSessionStamp !== entry.sessionStamp) return 'session_changed';
  return null;
}
