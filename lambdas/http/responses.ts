import { z } from 'zod';
import type { Drop, Section } from '../domain/budget';
import { sources } from '../domain/context';
import type { ContextResponse } from '../domain/context-builder';
import { httpErrorCodes } from '../domain/errors';
import { factLifecycleShape } from '../domain/fact-upsert';
import type { Citation, Fact, FactHistoryPage, StructuredSummary } from '../domain/facts';
import type { Profile } from '../domain/profile';
import type { StoredTurn } from '../domain/session';
import type { ToolError } from '../domain/tool-call';
import type { ToolAnswer } from '../domain/tool-execution';

/**
 * What the API answers, as zod schemas: the OpenAPI document's response bodies (lambdas/http/openapi.ts)
 * and what the contract tests check real answers against. The domain's own types stay the source of
 * what handlers build; each schema below is pinned to its type at compile time (`same<…>()` at the
 * end), so a field added to one and not the other fails `npm run typecheck`.
 */

// --- errors -----------------------------------------------------------------------------------------

export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.enum(httpErrorCodes),
      message: z.string(),
      /** what the code names: `fields` on validation_error, `currentVersion` on version_conflict, … */
      details: z.record(z.string(), z.unknown()),
    }),
  })
  .meta({ description: 'The one error shape of every handler.' });

/** 401 without a key and 403 for an unknown one come from API Gateway itself (the local server too). */
export const gatewayErrorSchema = z
  .object({ message: z.string() })
  .meta({ description: "API Gateway's own answer (no Authorization header: 401; a denied key: 403)." });

// --- shared pieces ----------------------------------------------------------------------------------

const isoDate = z.iso.datetime();
const count = z.number().int().min(0);

export const citationSchema = z.object({
  sessionId: z.string().optional(),
  seq: z.number().int().optional(),
  ref: z.string().optional(),
});

export const storedTurnSchema = z.object({
  role: z.enum(['user', 'assistant', 'tool']),
  content: z.string(),
  ref: z.string().optional(),
  toolCallId: z.string().optional(),
  name: z.string().optional(),
  seq: z.number().int(),
  tokens: count,
  at: isoDate,
});

export const summarySchema = z.object({
  facts: z.array(
    z.object({
      key: z.string(),
      text: z.string(),
      citations: z.array(citationSchema),
      recency: z.number(),
      tokens: count,
      at: isoDate.optional(),
    }),
  ),
  short: z.object({ text: z.string(), tokens: count }),
  tokens: count,
  watermarkSeq: z.number().int(),
  engine: z.string(),
  updatedAt: isoDate,
});

// --- health -----------------------------------------------------------------------------------------

export const healthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  /** per configured store, only up or down (why is in the log) */
  stores: z.record(z.string(), z.object({ status: z.enum(['ok', 'down']) })),
});

// --- sessions ---------------------------------------------------------------------------------------

export const appendAnswerSchema = z.object({
  version: z.number().int().min(1),
  tokens: count,
  lastSeq: z.number().int().min(1),
});

export const sessionSchema = z.object({
  sessionId: z.string(),
  version: z.number().int(),
  summary: summarySchema.nullable(),
  recentTurns: z.array(storedTurnSchema),
  tokenCounts: z.object({ total: count, recent: count, unsummarized: count }),
  lastSeq: z.number().int(),
  createdAt: isoDate,
  updatedAt: isoDate,
  /** epoch seconds */
  expiresAt: z.number().int(),
});

export const eventSchema = z.object({
  seq: z.number().int(),
  type: z.enum(['turn_appended', 'summary_updated', 'tool_invoked']),
  at: isoDate,
  data: z.record(z.string(), z.unknown()),
});

export const eventsPageSchema = z.object({
  events: z.array(eventSchema),
  /** the `after` of the next page; null at the end */
  next: z.number().int().nullable(),
});

// --- context ----------------------------------------------------------------------------------------

const capsSchema = z.object(
  Object.fromEntries(['total', ...sources].map((s) => [s, count])) as Record<
    'total' | (typeof sources)[number],
    typeof count
  >,
);

export const contextResponseSchema = z.object({
  messages: z.array(
    z.object({
      role: z.enum(['system', 'user', 'assistant', 'tool']),
      content: z.string(),
      name: z.string().optional(),
      toolCallId: z.string().optional(),
    }),
  ),
  sections: z.array(
    z.object({
      source: z.enum(sources),
      tokens: count,
      cap: count,
      items: count,
      dropped: z.array(
        z.object({ id: z.string(), reason: z.enum(['max_turns', 'source_cap', 'total_cap']) }),
      ),
      form: z.enum(['full', 'short', 'none']).optional(),
    }),
  ),
  usage: z.object({ tokensTotal: count, tokensFromState: count, tokenTaxRatio: z.number() }),
  policy: z.object({ name: z.string(), version: z.number().int(), ref: z.string() }),
  fingerprint: z.string(),
  degraded: z.array(z.enum(['session', 'facts', 'profile', 'recall'])),
  /** ms per store read, plus `tokenize` and `assemble` in process */
  timings: z.record(z.string(), z.number()),
  clamped: z.array(z.object({ source: z.enum(['total', ...sources]), requested: count, cap: count })),
  budget: capsSchema,
  /** 0: no session yet; null: the session store was degraded */
  sessionVersion: z.number().int().nullable(),
  /** give it to PUT /v1/cache with an answer built on this context; null when degraded */
  sessionStamp: z.string().nullable(),
});

// --- tools ------------------------------------------------------------------------------------------

export const toolErrorSchema = z.object({
  reason: z.enum([
    'http_status',
    'timeout',
    'network',
    'function_error',
    'invoke_error',
    'result_too_large',
    'result_not_storable',
  ]),
  message: z.string(),
  httpStatus: z.number().int().optional(),
  body: z.unknown().optional(),
});

export const toolAnswerSchema = z.object({
  status: z.enum(['completed', 'failed']),
  /** the tool's answer (completed) */
  result: z.unknown().optional(),
  /** why it failed for good (failed): stored and replayed */
  error: toolErrorSchema.optional(),
  replayed: z.boolean(),
  idempotencyKey: z.string(),
  toolName: z.string(),
  stepIndex: z.number().int(),
  attempts: z.number().int(),
  durationMs: z.number().optional(),
  policyVersion: z.number().int(),
  /** seq of its tool_invoked event; absent while that event is pending */
  eventSeq: z.number().int().optional(),
});

// --- facts, profiles, cache -------------------------------------------------------------------------

export const factSchema = z.object({
  id: z.string(),
  key: z.string().optional(),
  userId: z.string().optional(),
  sessionId: z.string().optional(),
  text: z.string(),
  citations: z.array(citationSchema),
  pinned: z.boolean(),
  tokens: count,
  version: z.number().int(),
  createdAt: isoDate,
  updatedAt: isoDate,
  /** supersedes: the version this one replaced; supersededBy, validUntil: once replaced (history only) */
  ...factLifecycleShape,
});

export const factUpsertAnswerSchema = z.object({ fact: factSchema, deduplicated: z.boolean() });

export const factSearchAnswerSchema = z.object({
  facts: z.array(factSchema.extend({ score: z.number() })),
});

/** one lineage's versions, newest first; `next` is the `before` of the next page */
export const factHistorySchema = z.object({
  facts: z.array(factSchema),
  next: z.number().int().optional(),
});

export const profileSchema = z.object({
  userId: z.string(),
  version: z.number().int(),
  attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.array(z.string())])),
  /** per attribute: the line a prompt shows and its tokens */
  lines: z.record(z.string(), z.object({ text: z.string(), tokens: count })),
  updatedAt: isoDate,
});

export const cachePutAnswerSchema = z.object({
  stored: z.literal(true),
  /** normalized */
  question: z.string(),
  /** epoch seconds */
  expiresAt: z.number().int(),
});

/** a stored answer: text or a JSON object */
export const cacheAnswerSchema = z.union([z.string(), z.record(z.string(), z.unknown())]);

export const cacheGetAnswerSchema = z.union([
  z.object({
    hit: z.literal(true),
    answer: cacheAnswerSchema,
    createdAt: isoDate,
  }),
  z.object({ hit: z.literal(false) }),
]);

// --- each schema is its domain type, both ways (compile time only) ----------------------------------

type Mutual<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** assignable both ways, and the same keys (an optional field missing on one side is assignable) */
type Same<A, B> = Mutual<A, B> extends true ? Mutual<keyof A, keyof B> : false;
const same = <_T extends true>() => undefined;
same<Same<z.output<typeof citationSchema>, Citation>>();
same<Same<z.output<typeof storedTurnSchema>, StoredTurn>>();
same<Same<z.output<typeof summarySchema>, StructuredSummary>>();
same<Same<z.output<typeof contextResponseSchema>, ContextResponse>>();
same<Same<z.output<typeof contextResponseSchema>['sections'][number], Section>>();
same<Same<z.output<typeof contextResponseSchema>['sections'][number]['dropped'][number], Drop>>();
same<Same<z.output<typeof toolErrorSchema>, ToolError>>();
same<Same<z.output<typeof toolAnswerSchema>, ToolAnswer>>();
same<Same<z.output<typeof factSchema>, Fact>>();
same<Same<z.output<typeof factHistorySchema>, FactHistoryPage>>();
same<Same<z.output<typeof profileSchema>, Profile>>();
