import { z } from 'zod';
import { SessionUserMismatchError } from './errors';
import type { StructuredSummary } from './facts';

/**
 * Session memory as a pure state machine: every change is an event, and the session item is the fold
 * of its events. The store persists the new state and its events in one transaction; replay() folds
 * the log again and must give the same state (tested).
 */

export const sessionLimits = {
  /** turns per append request: the state write plus one event per turn stay within one transaction. */
  maxTurnsPerAppend: 25,
  /** a single turn's content, in UTF-8 bytes. */
  maxTurnBytes: 32 * 1024,
  /** the session item keeps at most this many recent turns... */
  maxRecentTurns: 50,
  /** ...and at most this many bytes of their content, far under DynamoDB's 400 KB item limit. */
  maxRecentBytes: 160 * 1024,
  /** the whole item (summary, recent turns, the rest) as JSON, strings counted as UTF-8: under DynamoDB's
   * 400 KB with room for its per-attribute overhead. Recent turns give way first, then the summary's
   * citations (see boundItem). */
  maxItemBytes: 300 * 1024,
} as const;

export const turnInputSchema = z.strictObject({
  role: z.enum(['user', 'assistant', 'tool']),
  content: z.string().refine((s) => Buffer.byteLength(s, 'utf8') <= sessionLimits.maxTurnBytes, {
    message: `content must be at most ${sessionLimits.maxTurnBytes} bytes`,
  }),
  ref: z.string().min(1).max(256).optional(),
  toolCallId: z.string().min(1).max(256).optional(),
  name: z.string().min(1).max(128).optional(),
  /** when the message was said (ISO 8601 with a zone); default: when it was appended */
  at: z.iso
    .datetime({ offset: true })
    .transform((s) => new Date(s).toISOString())
    .optional(),
});
export type TurnInput = z.infer<typeof turnInputSchema>;

export interface StoredTurn extends Omit<TurnInput, 'at'> {
  seq: number;
  tokens: number;
  /** when it was said: the turn's own `at`, else when it was appended */
  at: string;
}

/** The rolling structured summary (written by the summarizer); session memory only stores it. */
export type SessionSummary = StructuredSummary;

export interface TokenCounts {
  /** every turn ever appended */
  total: number;
  /** the turns kept in the item */
  recent: number;
  /** turns after the summary watermark: what the summarization trigger looks at */
  unsummarized: number;
}

export interface SessionState {
  tenantId: string;
  sessionId: string;
  version: number;
  /** seq of the last event in the log; events of any kind advance it. */
  lastSeq: number;
  recentTurns: StoredTurn[];
  summary: SessionSummary | null;
  tokenCounts: TokenCounts;
  createdAt: string;
  updatedAt: string;
  /** epoch seconds: DynamoDB TTL */
  expiresAt: number;
  /** the user the session's turns belong to: named by an append, then fixed (recall's user scope) */
  userId?: string;
  /** where this incarnation's log starts (the seq before its first event): a session re-created after
   * it expired must not get its previous incarnation's conversation back (absent: 0) */
  startSeq?: number;
}

export type SessionEvent =
  | {
      seq: number;
      type: 'turn_appended';
      at: string;
      /** created: the first turn of a session (or of one re-created after its item expired) */
      data: { version: number; expiresAt: number; turn: StoredTurn; created?: true; userId?: string };
    }
  | {
      seq: number;
      type: 'summary_updated';
      at: string;
      data: { version: number; expiresAt: number; summary: SessionSummary; unsummarized: number };
    }
  | { seq: number; type: 'tool_invoked'; at: string; data: Record<string, unknown> };

export interface SessionRef {
  tenantId: string;
  sessionId: string;
}

/** Applies one event. Exported for replay; the write path goes through the same function. */
export function applyEvent(prev: SessionState | null, ref: SessionRef, event: SessionEvent): SessionState {
  // Events outlive their session item (longer retention): the log of a session re-created after it
  // expired holds the old incarnation first, and the fold starts over where the new one begins.
  const restarted = event.type === 'turn_appended' && event.data.created === true;
  const base: SessionState = (!restarted && prev) || {
    ...ref,
    version: 0,
    lastSeq: 0,
    recentTurns: [],
    summary: null,
    tokenCounts: { total: 0, recent: 0, unsummarized: 0 },
    createdAt: event.at,
    updatedAt: event.at,
    expiresAt: 0,
    startSeq: event.seq - 1,
  };
  switch (event.type) {
    case 'turn_appended': {
      const { turn } = event.data;
      return boundItem({
        ...base,
        version: event.data.version,
        lastSeq: event.seq,
        recentTurns: [...base.recentTurns, turn],
        tokenCounts: {
          ...base.tokenCounts,
          total: base.tokenCounts.total + turn.tokens,
          unsummarized: base.tokenCounts.unsummarized + turn.tokens,
        },
        updatedAt: event.at,
        expiresAt: event.data.expiresAt,
        ...(event.data.userId ? { userId: event.data.userId } : {}),
      });
    }
    case 'summary_updated':
      // A larger summary leaves less room for recent turns.
      return boundItem({
        ...base,
        version: event.data.version,
        lastSeq: event.seq,
        summary: event.data.summary,
        tokenCounts: { ...base.tokenCounts, unsummarized: event.data.unsummarized },
        updatedAt: event.at,
        expiresAt: event.data.expiresAt,
      });
    case 'tool_invoked':
      // Audit only: tool events advance the log, not the session's content or version.
      return { ...base, lastSeq: event.seq };
  }
}

/** Room always left for the newest turn: its content at the cap plus its other fields. */
const NEWEST_TURN_RESERVE = sessionLimits.maxTurnBytes + 2 * 1024;

// Sizes are memoized per object: a fold re-measures the same summary and turns once per event.
const sizes = new WeakMap<object, number>();
function sizeOf(v: StoredTurn | SessionSummary | SessionSummary['facts'][number]): number {
  let n = sizes.get(v);
  if (n === undefined) {
    // A turn's content counts as stored (UTF-8), not as escaped JSON; everything else as JSON.
    n =
      'content' in v
        ? Buffer.byteLength(v.content, 'utf8') + Buffer.byteLength(JSON.stringify({ ...v, content: '' }))
        : Buffer.byteLength(JSON.stringify(v), 'utf8');
    sizes.set(v, n);
  }
  return n;
}

/**
 * Keeps the whole item within maxItemBytes: the newest turns that fit what the rest leaves (and the
 * turn/byte caps); if the summary itself leaves no room for the newest turn, its facts keep only their
 * newest citation, then its oldest facts go. Older turns live on in the event log. Deterministic, so
 * replay() gives the same state.
 */
function boundItem(state: SessionState): SessionState {
  let summary = state.summary;
  const others = Buffer.byteLength(JSON.stringify({ ...state, summary: null, recentTurns: [] }), 'utf8');
  const restBytes = () => others + (summary ? sizeOf(summary) : 0);
  const room = sessionLimits.maxItemBytes - NEWEST_TURN_RESERVE;
  if (summary && restBytes() > room) {
    summary = { ...summary, facts: summary.facts.map((f) => ({ ...f, citations: f.citations.slice(-1) })) };
    let excess = restBytes() - room;
    let drop = 0;
    while (excess > 0 && drop < summary.facts.length) excess -= sizeOf(summary.facts[drop++]!) + 1;
    if (drop) summary = { ...summary, facts: summary.facts.slice(drop) };
  }
  const turns = state.recentTurns;
  let budget = sessionLimits.maxItemBytes - restBytes();
  let contentBytes = 0;
  let keep = 0;
  for (let i = turns.length - 1; i >= 0 && keep < sessionLimits.maxRecentTurns; i--) {
    contentBytes += Buffer.byteLength(turns[i]!.content, 'utf8');
    budget -= sizeOf(turns[i]!) + 1;
    if ((contentBytes > sessionLimits.maxRecentBytes || budget < 0) && keep > 0) break;
    keep++;
  }
  const recentTurns = turns.slice(turns.length - keep);
  return {
    ...state,
    summary,
    recentTurns,
    tokenCounts: { ...state.tokenCounts, recent: sumTokens(recentTurns) },
  };
}

const sumTokens = (turns: StoredTurn[]) => turns.reduce((n, t) => n + t.tokens, 0);

export interface AppendInput {
  turns: (TurnInput & { tokens: number })[];
  at: string;
  ttlSeconds: number;
  /** where the log ends when there is no session item (a session re-created after it expired) */
  afterSeq?: number;
  /** binds the session to this user (first naming wins; another user is refused) */
  userId?: string;
}

/** The events and resulting state of appending turns: one event per turn, one version bump in all. */
export function appendTurns(
  prev: SessionState | null,
  ref: SessionRef,
  input: AppendInput,
): { state: SessionState; events: SessionEvent[] } {
  if (prev?.userId && input.userId && prev.userId !== input.userId) {
    throw new SessionUserMismatchError(ref.sessionId, input.userId);
  }
  const binds = input.userId && !prev?.userId ? { userId: input.userId } : {};
  const version = (prev?.version ?? 0) + 1;
  const expiresAt = Math.floor(Date.parse(input.at) / 1000) + input.ttlSeconds;
  let seq = prev?.lastSeq ?? input.afterSeq ?? 0;
  const events: SessionEvent[] = input.turns.map((t) => {
    seq += 1;
    const turn: StoredTurn = { ...t, seq, at: t.at ?? input.at };
    const created = !prev && seq === (input.afterSeq ?? 0) + 1 ? { created: true as const } : {};
    return {
      seq,
      type: 'turn_appended',
      at: input.at,
      data: { version, expiresAt, turn, ...created, ...binds },
    };
  });
  return { state: fold(prev, ref, events), events };
}

/** Folds events onto a state (or from nothing). */
export function fold(prev: SessionState | null, ref: SessionRef, events: SessionEvent[]): SessionState {
  let state = prev;
  for (const e of events) state = applyEvent(state, ref, e);
  if (!state) throw new Error('fold of no events and no state');
  return state;
}

/**
 * What anything derived from a session's content depends on: its turns (version) and its summary
 * (watermark). Summaries are rewritten without a version bump, so the version alone is not enough.
 */
export const sessionStamp = (state: SessionState | null): string =>
  state ? `${state.version}.${state.summary?.watermarkSeq ?? 0}` : '0.0';

/** The last seq the session's summary covers: for a session without one, where its incarnation starts. */
export const summarizedUpTo = (state: SessionState): number =>
  state.summary?.watermarkSeq ?? state.startSeq ?? 0;

/** Whether a session item read from the store has expired (DynamoDB's TTL deletes items only eventually). */
export const expired = (state: Pick<SessionState, 'expiresAt'>, nowMs: number): boolean =>
  state.expiresAt > 0 && state.expiresAt * 1000 <= nowMs;

/** Rebuilds a session from its full event log. */
export const replay = (ref: SessionRef, events: SessionEvent[]): SessionState => fold(null, ref, events);
