/**
 * The one place that builds DynamoDB keys. Every partition key starts with the tenant, so no query
 * built here can reach another tenant's items; ids are validated (see domain/ids.ts) to exclude '#'.
 */
const t = (tenantId: string) => `T#${tenantId}`;

export const keys = {
  /** sessions table: one item per session. */
  session: (tenantId: string, sessionId: string) => ({ pk: `${t(tenantId)}#S#${sessionId}` }),
  /** events table: the session's append-only log, sorted by seq. */
  events: (tenantId: string, sessionId: string) => ({ pk: `${t(tenantId)}#S#${sessionId}` }),
  event: (tenantId: string, sessionId: string, seq: number) => ({ pk: `${t(tenantId)}#S#${sessionId}`, seq }),
  /** idempotency table: one record per tool call (tenant + session + step + tool). */
  toolCall: (tenantId: string, sessionId: string, stepIndex: number, toolName: string) => ({
    pk: `${t(tenantId)}#S#${sessionId}#STEP#${stepIndex}#TOOL#${toolName}`,
  }),
  /** idempotency table: an append's receipt (tenant + session + the client's Idempotency-Key). */
  appendReceipt: (tenantId: string, sessionId: string, idempotencyKey: string) => ({
    pk: `${t(tenantId)}#S#${sessionId}#APPEND#${idempotencyKey}`,
  }),
  /** tenants table: looked up by the hash of an API key; the key itself is never stored. */
  apiKey: (keyHash: string) => ({ pk: `KEY#${keyHash}` }),
  tenant: (tenantId: string) => ({ pk: `${t(tenantId)}#TENANT` }),
  /** facts table: one item per fact; scope is a userId or '*' (tenant-wide, not a valid id). */
  fact: (tenantId: string, factId: string) => ({ pk: `${t(tenantId)}#FACT#${factId}`, sk: 'FACT' }),
  /** facts table: a term's postings list in a scope, newest first (sk = recency rank, then fact id). */
  factTerm: (tenantId: string, scope: string, term: string) => ({
    pk: `${t(tenantId)}#FS#${scope}#TERM#${term}`,
  }),
  factPosting: (tenantId: string, scope: string, term: string, rank: string) => ({
    pk: `${t(tenantId)}#FS#${scope}#TERM#${term}`,
    sk: rank,
  }),
  /** facts table: the pinned facts of a scope (always candidates, whatever the query). */
  pinnedFacts: (tenantId: string, scope: string) => ({ pk: `${t(tenantId)}#FS#${scope}#PINNED` }),
  pinnedFact: (tenantId: string, scope: string, factId: string) => ({
    pk: `${t(tenantId)}#FS#${scope}#PINNED`,
    sk: factId,
  }),
  /** profiles table: one item per user. */
  profile: (tenantId: string, userId: string) => ({ pk: `${t(tenantId)}#U#${userId}#PROFILE` }),
  /** recall table: a scope's counters (documents, length, per-session watermarks). */
  recallStats: (tenantId: string, scope: string) => ({ pk: `${t(tenantId)}#R#${scope}`, sk: 'STATS' }),
  /** recall table: a term's postings in a scope, one block per indexed batch (sk = session id # the
   * padded watermark the batch starts after). */
  recallTerm: (tenantId: string, scope: string, term: string) => ({
    pk: `${t(tenantId)}#R#${scope}#T#${term}`,
  }),
  recallBlock: (tenantId: string, scope: string, term: string, sessionId: string, from: number) => ({
    pk: `${t(tenantId)}#R#${scope}#T#${term}`,
    sk: `${sessionId}#${String(from).padStart(10, '0')}`,
  }),
  /** cache table: one item per (normalized question, fingerprint) digest. */
  cacheEntry: (tenantId: string, digest: string) => ({ pk: `${t(tenantId)}#CACHE#${digest}` }),
} as const;
