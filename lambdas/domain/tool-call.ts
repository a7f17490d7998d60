import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import { NotFoundError } from './errors';
import { fold, type SessionEvent, type SessionRef, type SessionState } from './session';

/**
 * One tool call = one idempotency record (tenant + session + step + tool). Pure rules here: what a
 * record holds, how arguments are compared, which tool failures are final, and the tool_invoked event.
 */

export const toolCallLimits = {
  /** a stored result (its JSON text) must leave room in the 400 KB record for everything else */
  maxResultBytes: 256 * 1024,
  /** Prefer: wait=N is honoured up to this many seconds */
  maxWaitSeconds: 10,
  /** appends of the tool_invoked event per call (each one a session commit, itself retried on contention) */
  eventAttempts: 4,
  /** the lock outlives the tool's timeout by this much, unless CP_TOOL_LOCK_MARGIN_MS says otherwise */
  defaultLockMarginMs: 5_000,
} as const;

export type ToolCallStatus = 'in_progress' | 'completed' | 'failed';

/** Why a tool did not produce a result. */
export interface ToolError {
  reason:
    | 'http_status'
    | 'timeout'
    | 'network'
    | 'function_error'
    | 'invoke_error'
    | 'result_too_large'
    | 'result_not_storable';
  message: string;
  httpStatus?: number;
  body?: unknown;
}

/** What running a tool once gives: a result, a final failure (replayed), or a failure worth retrying. */
export type ToolOutcome =
  | { kind: 'ok'; result: unknown }
  | { kind: 'rejected'; error: ToolError }
  | { kind: 'retryable'; error: ToolError };

export interface ToolCallRecord {
  status: ToolCallStatus;
  argsHash: string;
  toolName: string;
  stepIndex: number;
  policyVersion: number;
  attempts: number;
  /** epoch ms; only while in progress */
  lockExpiresAt?: number;
  lockToken?: string;
  result?: unknown;
  error?: ToolError;
  durationMs?: number;
  completedAt?: string;
  /** seq of its tool_invoked event, once that landed (written after the outcome, in the event's transaction) */
  eventSeq?: number;
  /** epoch seconds: DynamoDB TTL */
  expiresAt: number;
}

/** Same arguments ⇔ same hash: keys sorted at every depth, so key order never matters. */
export function argumentsHash(args: unknown): string {
  return createHash('sha256').update(canonicalJson(args)).digest('hex');
}

/**
 * HTTP answers: 2xx is a result; 408, 429 and 5xx may be transient (the side effect may or may not have
 * happened, and the retry carries the same Idempotency-Key); any other status is the tool's final word.
 */
export function classifyHttpStatus(status: number): 'ok' | 'rejected' | 'retryable' {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 408 || status === 429 || status >= 500) return 'retryable';
  return 'rejected';
}

/** `Prefer: wait=N` (RFC 7240), bounded; 0 when absent or malformed. */
export function preferredWaitSeconds(header: string | undefined): number {
  const m = /(?:^|[,;\s])wait\s*=\s*"?(\d+)"?/i.exec(header ?? '');
  if (!m) return 0;
  return Math.min(Number.parseInt(m[1]!, 10), toolCallLimits.maxWaitSeconds);
}

/** How long a duplicate should back off: short (the call usually finishes soon), never past the lock. */
export function retryAfterSeconds(lockExpiresAt: number | undefined, now: number): number {
  const left = Math.ceil(((lockExpiresAt ?? now) - now) / 1000);
  return Math.max(1, Math.min(left, 2));
}

/** A final outcome as it is stored: status and its result (or error) as JSON text. */
export interface StoredOutcome {
  status: 'completed' | 'failed';
  json: string;
}

/**
 * Outcomes are stored as JSON text in a string attribute: DynamoDB's own types refuse numbers past
 * 38 digits or 1E+126, integers JavaScript cannot hold exactly, and nesting past 32 levels. What cannot
 * be stored even so (too deep for JSON.stringify, too large) becomes a final failure: the side effect
 * happened, and running the tool again would not make the result storable.
 */
export function storableOutcome(
  outcome: { kind: 'ok'; result: unknown } | { kind: 'rejected'; error: ToolError },
): StoredOutcome {
  let json: string;
  try {
    json = JSON.stringify(outcome.kind === 'ok' ? (outcome.result ?? null) : outcome.error);
  } catch (err) {
    return notStorable(`result cannot be serialized: ${(err as Error).message}`);
  }
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > toolCallLimits.maxResultBytes) {
    const error: ToolError = {
      reason: 'result_too_large',
      message: `result is ${bytes} bytes as JSON, limit ${toolCallLimits.maxResultBytes}`,
    };
    return { status: 'failed', json: JSON.stringify(error) };
  }
  return { status: outcome.kind === 'ok' ? 'completed' : 'failed', json };
}

export function notStorable(message: string): StoredOutcome {
  const error: ToolError = { reason: 'result_not_storable', message };
  return { status: 'failed', json: JSON.stringify(error) };
}

export interface ToolInvokedData {
  tool: string;
  stepIndex: number;
  idempotencyKey: string;
  durationMs: number;
  outcome: 'completed' | 'failed';
  attempts: number;
  policyVersion: number;
  error?: string;
}

/** The session after one tool_invoked event: the log advances, the content and version do not. */
export function recordToolInvoked(
  prev: SessionState | null,
  ref: SessionRef,
  data: ToolInvokedData,
  at: string,
): { state: SessionState; events: SessionEvent[] } {
  // Tools run inside a conversation: the session must exist (and must not be conjured by an audit event).
  if (!prev) throw new NotFoundError('session', ref.sessionId);
  const event: SessionEvent = {
    seq: prev.lastSeq + 1,
    type: 'tool_invoked',
    at,
    data: data as unknown as Record<string, unknown>,
  };
  return { state: fold(prev, ref, [event]), events: [event] };
}
