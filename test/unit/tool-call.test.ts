import { describe, expect, it } from 'vitest';
import { AppError, NotFoundError, ValidationError } from '../../lambdas/domain/errors';
import { type ToolSpec, toolSchema } from '../../lambdas/domain/policy';
import { appendTurns } from '../../lambdas/domain/session';
import { validateToolArguments } from '../../lambdas/domain/tool-args';
import {
  argumentsHash,
  classifyHttpStatus,
  preferredWaitSeconds,
  recordToolInvoked,
  retryAfterSeconds,
} from '../../lambdas/domain/tool-call';

const ref = { tenantId: 't1', sessionId: 's1' };
const tool = (inputSchema: Record<string, unknown>, name = 'weather'): ToolSpec =>
  toolSchema.parse({ name, kind: 'http', url: 'http://127.0.0.1:1/x', inputSchema });

function issuesOf(fn: () => void): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError)
      return ((err.details?.fields ?? []) as { path: string }[]).map((f) => f.path);
    throw err;
  }
  return [];
}

describe('argumentsHash', () => {
  it('ignores key order at every depth and differs on any value change', () => {
    const a = argumentsHash({ city: 'Oslo', opts: { unit: 'C', days: [1, 2] } });
    expect(argumentsHash({ opts: { days: [1, 2], unit: 'C' }, city: 'Oslo' })).toBe(a);
    expect(argumentsHash({ city: 'Oslo', opts: { unit: 'C', days: [2, 1] } })).not.toBe(a);
    expect(argumentsHash({ city: 'Bergen', opts: { unit: 'C', days: [1, 2] } })).not.toBe(a);
  });

  it('tells apart values that stringify alike in naive schemes', () => {
    expect(argumentsHash({ a: '1' })).not.toBe(argumentsHash({ a: 1 }));
    expect(argumentsHash({ a: null })).not.toBe(argumentsHash({}));
  });
});

describe('classifyHttpStatus', () => {
  it('retries what may be transient and replays what is the tool’s final word', () => {
    expect([200, 201, 204].map(classifyHttpStatus)).toEqual(['ok', 'ok', 'ok']);
    expect([408, 429, 500, 502, 503, 504].map(classifyHttpStatus)).toEqual(Array(6).fill('retryable'));
    expect([400, 401, 403, 404, 409, 422].map(classifyHttpStatus)).toEqual(Array(6).fill('rejected'));
  });
});

describe('Prefer: wait and Retry-After', () => {
  it('parses wait=N, bounded at 10 s, and ignores anything else', () => {
    expect(preferredWaitSeconds('wait=3')).toBe(3);
    expect(preferredWaitSeconds('respond-async, wait=7')).toBe(7);
    expect(preferredWaitSeconds('wait=600')).toBe(10);
    expect(preferredWaitSeconds('return=minimal')).toBe(0);
    expect(preferredWaitSeconds(undefined)).toBe(0);
  });

  it('suggests a short retry, at least 1 s and never past the lock', () => {
    expect(retryAfterSeconds(10_000 + 60_000, 10_000)).toBe(2);
    expect(retryAfterSeconds(10_500, 10_000)).toBe(1);
    expect(retryAfterSeconds(5_000, 10_000)).toBe(1);
  });
});

describe('validateToolArguments', () => {
  const schema = {
    type: 'object',
    required: ['city'],
    additionalProperties: false,
    properties: {
      city: { type: 'string', minLength: 1 },
      items: { type: 'array', items: { type: 'object', properties: { qty: { type: 'integer' } } } },
    },
  };
  const at = (s: Record<string, unknown>, v = 1) => ({ route: 'r', policyVersion: v, tool: tool(s) });

  it('names every failing field from the request body', () => {
    expect(issuesOf(() => validateToolArguments(at(schema), {}))).toEqual(['arguments.city']);
    expect(issuesOf(() => validateToolArguments(at(schema), { city: 3, extra: true })).sort()).toEqual([
      'arguments.city',
      'arguments.extra',
    ]);
    expect(
      issuesOf(() => validateToolArguments(at(schema), { city: 'x', items: [{ qty: 1 }, { qty: 'a' }] })),
    ).toEqual(['arguments.items.1.qty']);
    expect(issuesOf(() => validateToolArguments(at(schema), { city: 'Oslo' }))).toEqual([]);
  });

  it('refuses a schema that does not compile with a named error, not a crash', () => {
    expect(() => validateToolArguments(at({ type: 'no-such-type' }, 2), {})).toThrow(AppError);
  });
});

describe('recordToolInvoked', () => {
  it('advances the log by one event and leaves version and content alone', () => {
    const { state: prev } = appendTurns(null, ref, {
      turns: [{ role: 'user', content: 'hi', tokens: 1 }],
      at: '2026-01-01T00:00:00.000Z',
      ttlSeconds: 60,
    });
    const data = {
      tool: 'weather',
      stepIndex: 0,
      idempotencyKey: 'k',
      durationMs: 5,
      outcome: 'completed' as const,
      attempts: 1,
      policyVersion: 1,
    };
    const { state, events } = recordToolInvoked(prev, ref, data, '2026-01-01T00:00:01.000Z');
    expect(events).toEqual([{ seq: 2, type: 'tool_invoked', at: '2026-01-01T00:00:01.000Z', data }]);
    expect(state).toEqual({ ...prev, lastSeq: 2 });
  });

  it('refuses to conjure a session', () => {
    expect(() =>
      recordToolInvoked(
        null,
        ref,
        {
          tool: 't',
          stepIndex: 0,
          idempotencyKey: 'k',
          durationMs: 1,
          outcome: 'completed',
          attempts: 1,
          policyVersion: 1,
        },
        '2026-01-01T00:00:00.000Z',
      ),
    ).toThrow(NotFoundError);
  });
});
