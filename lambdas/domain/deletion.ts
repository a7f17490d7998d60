import { createHash } from 'node:crypto';
import { z } from 'zod';
import { idSchema, tenantIdSchema } from './ids';

/**
 * Deletion that follows provenance, as a pure plan: what a deletion of a session, a user or a fact
 * consists of, in which order, and what its record and audit event say. The store (stores/
 * deletion-store.ts) performs each step; every step is idempotent and counts exactly what it removed,
 * so a deletion resumed after a crash at any point ends in the same state with the same counts.
 */

export const deletionKinds = ['session', 'user', 'fact'] as const;
export type DeletionKind = (typeof deletionKinds)[number];

/** The stores a deletion removes items from (one count each): the tables, by what they hold. */
export const deletionStoreNames = [
  'sessions',
  'events',
  'idempotency',
  'facts',
  'profiles',
  'cache',
  'recall',
  'registry',
] as const;
export type StoreName = (typeof deletionStoreNames)[number];

/** Steps for one session, in order: what points at the session's content first, its log and item last. */
export const sessionSteps = ['tombstone', 'cache', 'tools', 'facts', 'recall', 'events', 'session'] as const;
export type SessionStep = (typeof sessionSteps)[number];

/** Steps for a user: its tombstone, each of its sessions (sessionSteps), then what the user owns. */
export const userSteps = ['tombstone', 'sessions', 'facts', 'profile', 'recall'] as const;
export type UserStep = (typeof userSteps)[number];

export const factSteps = ['facts'] as const;

export type DeletionStep = SessionStep | UserStep;

export const stepsOf = (kind: DeletionKind): readonly DeletionStep[] =>
  kind === 'session' ? sessionSteps : kind === 'user' ? userSteps : factSteps;

/**
 * A deletion runs its steps twice: once at once, and once more after a grace period longer than any
 * writer runs (the sweep), so a write that checked the tombstone just before it was placed and landed
 * after the first pass is removed too.
 */
export type DeletionStatus = 'running' | 'sweeping' | 'done';

export const deletionIdSchema = z
  .string()
  .regex(/^del-[0-9a-f]{32}$/, "a deletion id: 'del-' and 32 hex digits");

/** Derived from what is deleted, so the same request again is the same deletion. */
export function deletionIdOf(tenantId: string, kind: DeletionKind, targetId: string): string {
  const digest = createHash('sha256').update(`${tenantId}\0${kind}\0${targetId}`).digest('hex');
  return `del-${digest.slice(0, 32)}`;
}

/** What is being deleted; kept in the record only while the deletion runs (it names the target). */
export interface DeletionTarget {
  sessionId?: string;
  userId?: string;
  factId?: string;
  /** a fact's scope and lineage, located when the deletion was asked for (its versions go one by one) */
  scope?: string;
  lineageId?: string;
}

export interface DeletionRecord {
  id: string;
  tenantId: string;
  kind: DeletionKind;
  status: DeletionStatus;
  /** 1: the first pass; 2: the sweep */
  pass: 1 | 2;
  /** the next step to run in this pass */
  step: DeletionStep;
  /** absent once done */
  target?: DeletionTarget;
  /** the sessions deleted (absent once done: the audit event keeps them) */
  sessionIds?: string[];
  /** how many, once done */
  sessionsDeleted?: number;
  counts: Partial<Record<StoreName, number>>;
  /** facts that lost the deleted session's citations but stay (they cite other sessions too) */
  factsUpdated: number;
  createdAt: string;
  updatedAt: string;
  /** epoch ms: when the sweep may run */
  sweepAt?: number;
  completedAt?: string;
  /** the audit event's seq in the tenant's audit log */
  auditSeq?: number;
}

/** A deleted id is refused this long after its deletion completed (then its tombstone expires). */
export const TOMBSTONE_HOLD_SECONDS = 24 * 3600;
/** Default grace before the sweep: above the longest writer's timeout (the tools function, 90 s). */
export const DEFAULT_GRACE_SECONDS = 120;

/** The record's next position after `step` of a pass, or null when the pass is over. */
export function nextStep(kind: DeletionKind, step: DeletionStep): DeletionStep | null {
  const steps = stepsOf(kind);
  const i = steps.indexOf(step);
  return i >= 0 && i + 1 < steps.length ? steps[i + 1]! : null;
}

/** What the audit event says: ids and counts, never content. */
export function auditDataOf(record: DeletionRecord, at: string) {
  return {
    deletionId: record.id,
    kind: record.kind,
    ...(record.target?.sessionId ? { sessionId: record.target.sessionId } : {}),
    ...(record.target?.userId ? { userId: record.target.userId } : {}),
    ...(record.target?.factId ? { factId: record.target.factId } : {}),
    sessionIds: [...(record.sessionIds ?? [])].sort(),
    counts: record.counts,
    factsUpdated: record.factsUpdated,
    requestedAt: record.createdAt,
    completedAt: at,
  };
}

/** Sum of every store's count. */
export const itemsRemoved = (counts: DeletionRecord['counts']) =>
  Object.values(counts).reduce<number>((n, c) => n + (c ?? 0), 0);

/** A citation list without the deleted session's citations. */
export const withoutSession = <C extends { sessionId?: string }>(citations: C[], sessionId: string) =>
  citations.filter((c) => c.sessionId !== sessionId);

/** Whether a fact version stands on the deleted session alone (it cites it, and no other session). */
export function citesOnly<C extends { sessionId?: string }>(citations: C[], sessionId: string): boolean {
  const sessions = new Set(citations.flatMap((c) => (c.sessionId ? [c.sessionId] : [])));
  return sessions.has(sessionId) && sessions.size === 1;
}

// --- HTTP contract (exported for the OpenAPI document) ---

export const deletionPathSchemas = {
  session: z.object({ sessionId: idSchema }),
  user: z.object({ userId: idSchema }),
  fact: z.object({ factId: z.string().regex(/^f-[0-9a-f]{32}(-v\d+)?$/, "a fact id: 'f-', 32 hex digits") }),
  deletion: z.object({ id: deletionIdSchema }),
};

export const deletionAcceptedSchema = z.object({
  id: deletionIdSchema,
  kind: z.enum(deletionKinds),
  status: z.enum(['running', 'sweeping', 'done']),
});

export const deletionStatusSchema = deletionAcceptedSchema.extend({
  pass: z.union([z.literal(1), z.literal(2)]),
  step: z.string(),
  counts: z.partialRecord(z.enum(deletionStoreNames), z.number().int().min(0)),
  itemsRemoved: z.number().int().min(0),
  sessionsDeleted: z.number().int().min(0),
  factsUpdated: z.number().int().min(0),
  createdAt: z.string(),
  updatedAt: z.string(),
  sweepAt: z.string().optional(),
  completedAt: z.string().optional(),
  auditSeq: z.number().int().optional(),
});
export type DeletionStatusBody = z.infer<typeof deletionStatusSchema>;

export function statusBodyOf(r: DeletionRecord): DeletionStatusBody {
  return {
    id: r.id,
    kind: r.kind,
    status: r.status,
    pass: r.pass,
    step: r.step,
    counts: r.counts,
    itemsRemoved: itemsRemoved(r.counts),
    sessionsDeleted: r.sessionsDeleted ?? r.sessionIds?.length ?? 0,
    factsUpdated: r.factsUpdated,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    ...(r.sweepAt !== undefined && r.status === 'sweeping'
      ? { sweepAt: new Date(r.sweepAt).toISOString() }
      : {}),
    ...(r.completedAt ? { completedAt: r.completedAt } : {}),
    ...(r.auditSeq !== undefined ? { auditSeq: r.auditSeq } : {}),
  };
}

/** The deletion queue's message: which deletion to run (its record holds the rest). */
export const deletionJobSchema = z.strictObject({ tenantId: tenantIdSchema, deletionId: deletionIdSchema });
export type DeletionJob = z.infer<typeof deletionJobSchema>;
