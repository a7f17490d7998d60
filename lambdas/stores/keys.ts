import { createHash } from 'node:crypto';

/**
 * The one place that builds DynamoDB keys. Every partition key starts with the tenant, so no query
 * built here can reach another tenant's items; ids are validated (see domain/ids.ts) to exclude '#'.
 */
const t = (tenantId: string) => `T#${tenantId}`;
/** inverted so that newer sorts first */
const MAX_EPOCH_MS = 9_999_999_999_999;
const MAX_VERSION = 9_999_999_999;

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
  /*
   * facts table. A scope is a userId, '~<sessionId>' (a session without a user) or '*' (tenant-wide);
   * none is a valid id. A lineage is one (scope, key) (or unkeyed text); its id is `f-<32 hex>`
   * (domain/fact-upsert.ts lineageIdOf). Each value a lineage takes is a version with its own id,
   * `<lineageId>-v<n>`; a superseded version keeps its item (validUntil, supersededBy) and loses its
   * postings and pinned entry in the transaction that supersedes it. Items:
   *   T#<t>#FACT#<factId>            sk FACT                    one per version (current or history)
   *   T#<t>#FS#<scope>#FACTS         sk <lineageId>#HEAD        the lineage's current version id, its
   *                                                             index terms and pin, a revision counter
   *                                  sk <lineageId>#V#<inv v>   one per version (newest first): its id
   *   T#<t>#FS#<scope>#TERM#<term>   sk <rank>#<factId>         postings of current versions only
   *   T#<t>#FS#<scope>#PINNED        sk <factId>                pinned current versions only
   * So one paged Query of FS#<scope>#FACTS finds every version of every fact of a scope (and, from
   * the heads, every posting and pinned entry); begins_with(<lineageId>#) finds one fact's chain.
   */
  /** facts table: one fact version. */
  fact: (tenantId: string, factId: string) => ({ pk: `${t(tenantId)}#FACT#${factId}`, sk: 'FACT' }),
  /** facts table: a scope's lineages (heads) and versions (chain entries). */
  factScope: (tenantId: string, scope: string) => ({ pk: `${t(tenantId)}#FS#${scope}#FACTS` }),
  factHead: (tenantId: string, scope: string, lineageId: string) => ({
    pk: `${t(tenantId)}#FS#${scope}#FACTS`,
    sk: `${lineageId}#HEAD`,
  }),
  factVersion: (tenantId: string, scope: string, lineageId: string, version: number) => ({
    pk: `${t(tenantId)}#FS#${scope}#FACTS`,
    sk: `${lineageId}#V#${String(MAX_VERSION - version).padStart(10, '0')}`,
  }),
  /** sort-key prefixes in factScope: one lineage's head and versions, or its versions only */
  factChainPrefix: (lineageId: string) => `${lineageId}#`,
  factVersionsPrefix: (lineageId: string) => `${lineageId}#V#`,
  /** facts table: a term's postings list in a scope, newest first (sk = recency rank, then fact id). */
  factTerm: (tenantId: string, scope: string, term: string) => ({
    pk: `${t(tenantId)}#FS#${scope}#TERM#${term}`,
  }),
  factPosting: (tenantId: string, scope: string, term: string, atMs: number, factId: string) => ({
    pk: `${t(tenantId)}#FS#${scope}#TERM#${term}`,
    sk: `${String(MAX_EPOCH_MS - atMs).padStart(13, '0')}#${factId}`,
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
  /** recall table: a session scope's whole index in one item, beside its counters (domain/recall-pack.ts). */
  recallPack: (tenantId: string, scope: string) => ({ pk: `${t(tenantId)}#R#${scope}`, sk: 'PACK' }),
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
  /*
   * registry table: what belongs to what, and what is being deleted (lambdas/stores/registry.ts).
   *   T#<t>#TOMB#<kind>#<sha256(id)>  sk TOMB            a deleted (or being deleted) session or user;
   *                                                      hashed, so no deleted id outlives its deletion
   *   T#<t>#U#<userId>#SESSIONS       sk <sessionId>     the sessions bound to a user
   *   T#<t>#S#<sessionId>#OWNED       sk I#<pk>          its tool-call records and append receipts
   *                                   sk C#<digest>      cache entries built on it
   *                                   sk R#<scope>#<from> recall blocks it has in a scope (terms listed)
   *                                   sk F#<scope>#<lineage> facts (of any scope) that cite it
   *   T#<t>#DEL#<deletionId>          sk DEL             a deletion's record (progress and counts)
   */
  tombstone: (tenantId: string, kind: 'session' | 'user', id: string) => ({
    pk: `${t(tenantId)}#TOMB#${kind}#${createHash('sha256').update(id).digest('hex').slice(0, 32)}`,
    sk: 'TOMB',
  }),
  userSessions: (tenantId: string, userId: string) => ({ pk: `${t(tenantId)}#U#${userId}#SESSIONS` }),
  userSession: (tenantId: string, userId: string, sessionId: string) => ({
    pk: `${t(tenantId)}#U#${userId}#SESSIONS`,
    sk: sessionId,
  }),
  sessionOwned: (tenantId: string, sessionId: string) => ({ pk: `${t(tenantId)}#S#${sessionId}#OWNED` }),
  /** kind I: an idempotency-table pk; C: a cache digest; R: `<scope>#<from>` of a recall batch;
   * F: `<scope>#<lineageId>` of a fact that cites the session */
  ownedItem: (tenantId: string, sessionId: string, kind: 'I' | 'C' | 'R' | 'F', ref: string) => ({
    pk: `${t(tenantId)}#S#${sessionId}#OWNED`,
    sk: `${kind}#${ref}`,
  }),
  recallBatchRef: (scope: string, from: number) => `${scope}#${String(from).padStart(10, '0')}`,
  deletion: (tenantId: string, deletionId: string) => ({ pk: `${t(tenantId)}#DEL#${deletionId}`, sk: 'DEL' }),
  /** events table: the tenant's audit log (one event per completed deletion: ids and counts only) */
  auditEvent: (tenantId: string, seq: number) => ({ pk: `${t(tenantId)}#AUDIT`, seq }),
  /** every key of a tenant starts with this (the CLI's tenant delete) */
  tenantPrefix: (tenantId: string) => `${t(tenantId)}#`,
} as const;
