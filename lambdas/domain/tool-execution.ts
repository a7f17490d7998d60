import {
  IdempotencyKeyReusedError,
  NotFoundError,
  ToolCallInProgressError,
  ToolUnavailableError,
} from './errors';
import type { ToolSpec } from './policy';
import type { SessionRef } from './session';
import {
  notStorable,
  retryAfterSeconds,
  type StoredOutcome,
  storableOutcome,
  type ToolCallRecord,
  type ToolError,
  type ToolOutcome,
  toolCallLimits,
} from './tool-call';

/**
 * Exactly-once tool execution over two ports: the idempotency records and the tool runner.
 * claim → run → complete (the outcome into the record, fenced by the lock token, touching nothing
 * else) → log (the tool_invoked event, at most once, retried; a later call finishes it if it did not
 * land). Duplicates get the stored answer, a 409 or, with Prefer: wait, the in-flight answer.
 */

export interface Claim {
  argsHash: string;
  toolName: string;
  stepIndex: number;
  policyVersion: number;
  lockMs: number;
  ttlSeconds: number;
}

export type ClaimResult =
  | { claimed: true; lockToken: string; attempts: number; tookOver: boolean }
  | { claimed: false; record: ToolCallRecord };

export interface Completion extends StoredOutcome {
  durationMs: number;
  attempts: number;
  /** what the call was claimed with: tool, step, policy version, arguments hash */
  claim: Claim;
}

/** Thrown by complete() when our lock was taken over: the record is no longer ours to write. */
export class LockLostError extends Error {}

/** Thrown by complete() when the store refuses the outcome itself (e.g. the item would be too large). */
export class NotStorableError extends Error {}

export interface ToolCallRecords {
  claim(key: string, claim: Claim): Promise<ClaimResult>;
  get(key: string): Promise<ToolCallRecord | null>;
  /** deletes the record if we still hold its lock, so the next call runs the tool again */
  release(key: string, lockToken: string): Promise<void>;
  /** stores the final outcome if we still hold the lock: one conditional write on the record only */
  complete(key: string, lockToken: string, done: Completion): Promise<ToolCallRecord>;
  /** appends the completed record's tool_invoked event unless it has one; returns the event's seq */
  logEvent(ref: SessionRef, key: string, record: ToolCallRecord): Promise<number>;
}

export interface ToolRunner {
  run(tool: ToolSpec, args: unknown, ctx: { idempotencyKey: string }): Promise<ToolOutcome>;
}

export interface ToolCall {
  ref: SessionRef;
  key: string;
  tool: ToolSpec;
  args: unknown;
  claim: Claim;
  waitSeconds: number;
}

export interface ToolAnswer {
  status: 'completed' | 'failed';
  result?: unknown;
  error?: ToolError;
  replayed: boolean;
  idempotencyKey: string;
  toolName: string;
  stepIndex: number;
  attempts: number;
  durationMs?: number;
  policyVersion: number;
  eventSeq?: number;
}

/** What the executor reports, for metrics; it never touches a metrics sink itself. */
export type ToolCallObserver = (
  what: 'invoked' | 'replayed' | 'conflict' | 'took_over' | 'event_pending',
  durationMs?: number,
  cause?: unknown,
) => void;

export interface Ports {
  records: ToolCallRecords;
  runner: ToolRunner;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  observe?: ToolCallObserver;
}

export async function executeToolCall(ports: Ports, call: ToolCall): Promise<ToolAnswer> {
  const now = ports.now ?? Date.now;
  const sleep = ports.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const observe = ports.observe ?? (() => {});
  const deadline = now() + Math.min(call.waitSeconds, toolCallLimits.maxWaitSeconds) * 1000;
  let delay = 50;
  let claim = await ports.records.claim(call.key, call.claim);
  for (;;) {
    if (claim.claimed) {
      if (claim.tookOver) observe('took_over');
      return run(ports, call, claim.lockToken, claim.attempts, observe);
    }
    const { record } = claim;
    if (record.argsHash !== call.claim.argsHash) throw new IdempotencyKeyReusedError(call.key);
    if (record.status !== 'in_progress') {
      observe('replayed');
      return answerOf(call.key, await withEvent(ports, call, record), true);
    }
    const left = deadline - now();
    if (left <= 0) {
      observe('conflict');
      throw new ToolCallInProgressError(
        call.key,
        retryAfterSeconds(record.lockExpiresAt, now()),
        Math.max(0, Math.ceil(((record.lockExpiresAt ?? now()) - now()) / 1000)),
      );
    }
    // Prefer: wait — poll with backoff by reads; claim again only once the record is gone or abandoned.
    await sleep(Math.min(delay, left));
    delay = Math.min(delay * 2, 1000);
    const seen = await ports.records.get(call.key);
    const abandoned = !seen || (seen.status === 'in_progress' && (seen.lockExpiresAt ?? 0) < now());
    claim = abandoned ? await ports.records.claim(call.key, call.claim) : { claimed: false, record: seen };
  }
}

async function run(
  ports: Ports,
  call: ToolCall,
  lockToken: string,
  attempts: number,
  observe: ToolCallObserver,
): Promise<ToolAnswer> {
  const started = performance.now();
  let outcome: ToolOutcome;
  try {
    outcome = await ports.runner.run(call.tool, call.args, { idempotencyKey: call.key });
  } catch (err) {
    // A runner bug is not the tool's final word: let the next call try again.
    outcome = { kind: 'retryable', error: { reason: 'network', message: (err as Error).message } };
  }
  const durationMs = Math.round(performance.now() - started);
  observe('invoked', durationMs);
  if (outcome.kind === 'retryable') {
    await ports.records.release(call.key, lockToken);
    const { reason, message, httpStatus } = outcome.error;
    throw new ToolUnavailableError(call.tool.name, reason, `tool '${call.tool.name}' failed: ${message}`, {
      ...(httpStatus ? { httpStatus } : {}),
    });
  }
  const done = { durationMs, attempts, claim: call.claim };
  let record: ToolCallRecord;
  try {
    try {
      record = await ports.records.complete(call.key, lockToken, { ...storableOutcome(outcome), ...done });
    } catch (err) {
      if (!(err instanceof NotStorableError)) throw err;
      // The tool ran; what it answered cannot be kept. That is final, never a reason to run it again.
      record = await ports.records.complete(call.key, lockToken, { ...notStorable(err.message), ...done });
    }
  } catch (err) {
    if (!(err instanceof LockLostError)) throw err;
    // We overran our lock and another worker took the call over: its record is the answer.
    const winner = await ports.records.get(call.key);
    if (winner && winner.status !== 'in_progress') return answerOf(call.key, winner, true);
    throw new ToolCallInProgressError(call.key, 1, 0);
  }
  return answerOf(call.key, await withEvent(ports, call, record), false);
}

/**
 * The outcome is stored; now its tool_invoked event, which contends with every other write on the
 * session item. Retried with jittered backoff; if it still has not landed, the answer goes out without
 * `eventSeq` and the next call for this key (which replays the stored answer) appends it. The record
 * says whether the event landed, and the append is conditioned on that: never two events.
 */
async function withEvent(ports: Ports, call: ToolCall, record: ToolCallRecord): Promise<ToolCallRecord> {
  if (record.eventSeq !== undefined) return record;
  const observe = ports.observe ?? (() => {});
  const sleep = ports.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 1, delay = 100; ; attempt++, delay *= 2) {
    try {
      return { ...record, eventSeq: await ports.records.logEvent(call.ref, call.key, record) };
    } catch (err) {
      // No session (it expired): no log to write to, and retrying will not make one.
      if (err instanceof NotFoundError || attempt >= toolCallLimits.eventAttempts) {
        observe('event_pending', undefined, err);
        return record;
      }
      await sleep(delay * (0.5 + Math.random()));
    }
  }
}

function answerOf(key: string, r: ToolCallRecord, replayed: boolean): ToolAnswer {
  return {
    status: r.status === 'failed' ? 'failed' : 'completed',
    ...(r.status === 'failed' ? { error: r.error } : { result: r.result ?? null }),
    replayed,
    idempotencyKey: key,
    toolName: r.toolName,
    stepIndex: r.stepIndex,
    attempts: r.attempts,
    durationMs: r.durationMs,
    policyVersion: r.policyVersion,
    eventSeq: r.eventSeq,
  };
}
