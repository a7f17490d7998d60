import { describe, expect, it } from 'vitest';
import {
  AppError,
  IdempotencyKeyReusedError,
  StoreUnavailableError,
  ToolCallInProgressError,
} from '../../lambdas/domain/errors';
import { toolSchema } from '../../lambdas/domain/policy';
import { argumentsHash, type ToolCallRecord, type ToolOutcome } from '../../lambdas/domain/tool-call';
import {
  type Claim,
  type ClaimResult,
  type Completion,
  executeToolCall,
  LockLostError,
  NotStorableError,
  type ToolCall,
  type ToolCallRecords,
} from '../../lambdas/domain/tool-execution';

/** The executor's rules with in-memory ports and a virtual clock: no I/O, no real waiting. */

class MemoryRecords implements ToolCallRecords {
  record: (ToolCallRecord & { lockToken?: string }) | null = null;
  tokens = 0;
  events: number[] = [];
  /** how many of the next logEvent calls fail (contention on the session item) */
  failEvents = 0;
  refuse: ((done: Completion) => boolean) | null = null;
  constructor(private readonly now: () => number) {}
  async claim(_key: string, c: Claim): Promise<ClaimResult> {
    const r = this.record;
    const free =
      !r || (r.status === 'in_progress' && r.lockExpiresAt! < this.now() && r.argsHash === c.argsHash);
    if (!free) return { claimed: false, record: { ...r! } };
    const lockToken = `tok-${++this.tokens}`;
    const attempts = (r?.attempts ?? 0) + 1;
    this.record = {
      status: 'in_progress',
      argsHash: c.argsHash,
      toolName: c.toolName,
      stepIndex: c.stepIndex,
      policyVersion: c.policyVersion,
      attempts,
      lockToken,
      lockExpiresAt: this.now() + c.lockMs,
      expiresAt: 0,
    };
    return { claimed: true, lockToken, attempts, tookOver: attempts > 1 };
  }
  async get() {
    return this.record ? { ...this.record } : null;
  }
  async release(_key: string, token: string) {
    if (this.record?.lockToken === token) this.record = null;
  }
  async complete(_key: string, token: string, done: Completion) {
    if (this.record?.lockToken !== token || this.record.status !== 'in_progress')
      throw new LockLostError('lost');
    if (this.refuse?.(done)) throw new NotStorableError('Item size has exceeded the maximum allowed size');
    const { lockToken: _t, lockExpiresAt: _l, ...rest } = this.record;
    const value = JSON.parse(done.json);
    this.record = {
      ...rest,
      status: done.status,
      ...(done.status === 'completed' ? { result: value } : { error: value }),
      completedAt: 'now',
    };
    return { ...this.record };
  }
  async logEvent() {
    if (this.failEvents > 0) {
      this.failEvents--;
      throw new StoreUnavailableError('sessions');
    }
    if (this.record?.eventSeq === undefined) {
      this.events.push(7 + this.events.length);
      this.record = { ...this.record!, eventSeq: this.events.at(-1)! };
    }
    return this.record.eventSeq!;
  }
}

function setup(outcome: () => Promise<ToolOutcome>) {
  let clock = 1_000_000;
  const records = new MemoryRecords(() => clock);
  const runs: unknown[] = [];
  const seen: string[] = [];
  const ports = {
    records,
    runner: {
      run: async (_t: unknown, args: unknown) => {
        runs.push(args);
        return outcome();
      },
    },
    now: () => clock,
    sleep: async (ms: number) => {
      clock += ms;
    },
    observe: (what: string) => seen.push(what),
  };
  const call = (args: unknown, waitSeconds = 0): ToolCall => ({
    ref: { tenantId: 't', sessionId: 's' },
    key: 'K',
    tool: toolSchema.parse({ name: 'book', kind: 'http', url: 'http://127.0.0.1:1/', timeoutMs: 1000 }),
    args,
    waitSeconds,
    claim: {
      argsHash: argumentsHash(args),
      toolName: 'book',
      stepIndex: 0,
      policyVersion: 1,
      lockMs: 6000,
      ttlSeconds: 60,
    },
  });
  return { records, runs, seen, ports, call, advance: (ms: number) => (clock += ms) };
}

describe('executeToolCall', () => {
  it('runs once, then replays the stored result', async () => {
    const t = setup(async () => ({ kind: 'ok', result: { booking: 1 } }));
    const first = await executeToolCall(t.ports, t.call({ city: 'Oslo' }));
    const again = await executeToolCall(t.ports, t.call({ city: 'Oslo' }));
    expect(first).toMatchObject({
      status: 'completed',
      result: { booking: 1 },
      replayed: false,
      eventSeq: 7,
    });
    expect(again).toMatchObject({ status: 'completed', result: { booking: 1 }, replayed: true });
    expect(t.runs).toHaveLength(1);
    expect(t.seen).toEqual(['invoked', 'replayed']);
  });

  it('refuses other arguments under the same key, whatever the record’s state', async () => {
    const t = setup(async () => ({ kind: 'ok', result: 1 }));
    await t.records.claim('K', t.call({ city: 'Oslo' }).claim);
    await expect(executeToolCall(t.ports, t.call({ city: 'Rome' }, 5))).rejects.toThrow(
      IdempotencyKeyReusedError,
    );
    expect(t.runs).toHaveLength(0);
  });

  it('answers 409 at once without Prefer: wait, and after at most N seconds with it', async () => {
    const t = setup(async () => ({ kind: 'ok', result: 1 }));
    await t.records.claim('K', t.call({ city: 'Oslo' }).claim);
    const err = await executeToolCall(t.ports, t.call({ city: 'Oslo' })).catch((e) => e);
    expect(err).toBeInstanceOf(ToolCallInProgressError);
    expect(err.headers).toEqual({ 'retry-after': String(err.details.retryAfterSeconds) });
    const started = t.ports.now();
    await expect(executeToolCall(t.ports, t.call({ city: 'Oslo' }, 3))).rejects.toThrow(
      ToolCallInProgressError,
    );
    expect(t.ports.now() - started).toBeGreaterThanOrEqual(3000);
    expect(t.ports.now() - started).toBeLessThan(6000);
    expect(t.runs).toHaveLength(0);
  });

  it('with Prefer: wait, returns the in-flight result once it lands', async () => {
    const t = setup(async () => ({ kind: 'ok', result: 1 }));
    const holder = await t.records.claim('K', t.call({ city: 'Oslo' }).claim);
    if (!holder.claimed) throw new Error('not claimed');
    const sleep = t.ports.sleep;
    let polls = 0;
    t.ports.sleep = async (ms: number) => {
      await sleep(ms);
      // The holder completes during the third back-off.
      if (++polls === 3)
        await t.records.complete('K', holder.lockToken, {
          status: 'completed',
          json: JSON.stringify({ booking: 9 }),
          durationMs: 1,
          attempts: 1,
          claim: t.call({}).claim,
        });
    };
    const answer = await executeToolCall(t.ports, t.call({ city: 'Oslo' }, 10));
    expect(answer).toMatchObject({ result: { booking: 9 }, replayed: true });
    expect(t.runs).toHaveLength(0);
  });

  it('with Prefer: wait, takes over a call whose lock expires while waiting', async () => {
    const t = setup(async () => ({ kind: 'ok', result: 'mine' }));
    await t.records.claim('K', { ...t.call({ city: 'Oslo' }).claim, lockMs: 2000 });
    const answer = await executeToolCall(t.ports, t.call({ city: 'Oslo' }, 10));
    expect(answer).toMatchObject({ result: 'mine', replayed: false, attempts: 2 });
    expect(t.seen).toEqual(['took_over', 'invoked']);
  });

  it('releases the record on a retryable failure and stores a final one for replay', async () => {
    let next: ToolOutcome = {
      kind: 'retryable',
      error: { reason: 'http_status', message: '503', httpStatus: 503 },
    };
    const t = setup(async () => next);
    const err = await executeToolCall(t.ports, t.call({ city: 'Oslo' })).catch((e) => e);
    expect(err).toBeInstanceOf(AppError);
    expect([err.status, err.code, err.details.retryable]).toEqual([502, 'tool_unavailable', true]);
    expect(t.records.record).toBeNull();

    next = { kind: 'rejected', error: { reason: 'http_status', message: '400', httpStatus: 400 } };
    const failed = await executeToolCall(t.ports, t.call({ city: 'Oslo' }));
    const replay = await executeToolCall(t.ports, t.call({ city: 'Oslo' }));
    expect(failed).toMatchObject({ status: 'failed', replayed: false, error: { httpStatus: 400 } });
    expect(replay).toMatchObject({ status: 'failed', replayed: true });
    expect(t.runs).toHaveLength(2);
  });

  it('treats a runner that throws as retryable, and a timeout as 504', async () => {
    const t = setup(async () => {
      throw new Error('boom');
    });
    await expect(executeToolCall(t.ports, t.call({}))).rejects.toMatchObject({ status: 502 });
    expect(t.records.record).toBeNull();
    const slow = setup(async () => ({ kind: 'retryable', error: { reason: 'timeout', message: 'slow' } }));
    await expect(executeToolCall(slow.ports, slow.call({}))).rejects.toMatchObject({
      status: 504,
      code: 'tool_timeout',
    });
  });

  it('when its lock was taken over mid-run, answers with the winner’s record instead of writing its own', async () => {
    const t = setup(async () => {
      // While the tool runs past the lock, another worker takes over and completes.
      t.advance(10_000);
      const other = await t.records.claim('K', t.call({ city: 'Oslo' }).claim);
      if (!other.claimed) throw new Error('no takeover');
      await t.records.complete('K', other.lockToken, {
        status: 'completed',
        json: '"theirs"',
        durationMs: 1,
        attempts: 2,
        claim: t.call({}).claim,
      });
      return { kind: 'ok', result: 'mine' };
    });
    const answer = await executeToolCall(t.ports, t.call({ city: 'Oslo' }));
    expect(answer).toMatchObject({ result: 'theirs', replayed: true });
  });

  it('answers once the outcome is stored, retrying the event; if it never lands, the next call appends it', async () => {
    const t = setup(async () => ({ kind: 'ok', result: { booking: 1 } }));
    t.records.failEvents = 2;
    const first = await executeToolCall(t.ports, t.call({ city: 'Oslo' }));
    expect(first).toMatchObject({ status: 'completed', replayed: false, eventSeq: 7 });

    const u = setup(async () => ({ kind: 'ok', result: { booking: 2 } }));
    u.records.failEvents = 100;
    const pending = await executeToolCall(u.ports, u.call({ city: 'Oslo' }));
    expect(pending).toMatchObject({ status: 'completed', result: { booking: 2 }, replayed: false });
    expect(pending.eventSeq).toBeUndefined();
    expect(u.seen).toEqual(['invoked', 'event_pending']);
    expect(u.records.record).toMatchObject({ status: 'completed' });

    u.records.failEvents = 0;
    const replay = await executeToolCall(u.ports, u.call({ city: 'Oslo' }));
    const again = await executeToolCall(u.ports, u.call({ city: 'Oslo' }));
    expect(replay).toMatchObject({ result: { booking: 2 }, replayed: true, eventSeq: 7 });
    expect(again).toMatchObject({ replayed: true, eventSeq: 7 });
    expect(u.records.events).toEqual([7]);
    expect(u.runs).toHaveLength(1);
  });

  it('stores a result DynamoDB types would refuse as JSON, and replays it as first answered', async () => {
    const result = JSON.parse('{"big": 9007199254740993, "huge": 1e300, "tiny": 1e-300}');
    const t = setup(async () => ({ kind: 'ok', result }));
    const first = await executeToolCall(t.ports, t.call({}));
    const again = await executeToolCall(t.ports, t.call({}));
    expect(first).toMatchObject({ status: 'completed', result: { huge: 1e300, tiny: 1e-300 } });
    expect(again).toMatchObject({ replayed: true, result: first.result });
    expect(t.runs).toHaveLength(1);
  });

  it('stores a result that cannot be stored as a final failure: replayed, never run again', async () => {
    const deep = JSON.parse(`${'['.repeat(20_000)}${']'.repeat(20_000)}`);
    const t = setup(async () => ({ kind: 'ok', result: deep }));
    const first = await executeToolCall(t.ports, t.call({}));
    t.advance(60_000);
    const again = await executeToolCall(t.ports, t.call({}));
    expect(first).toMatchObject({
      status: 'failed',
      replayed: false,
      error: { reason: 'result_not_storable' },
    });
    expect(again).toMatchObject({
      status: 'failed',
      replayed: true,
      error: { reason: 'result_not_storable' },
    });
    expect(t.runs).toHaveLength(1);

    const big = setup(async () => ({ kind: 'ok', result: Array(60_000).fill(1e20) }));
    expect(await executeToolCall(big.ports, big.call({}))).toMatchObject({
      status: 'failed',
      error: { reason: 'result_too_large' },
    });

    // The store itself refusing the item (DynamoDB ValidationException) is final too.
    const refused = setup(async () => ({ kind: 'ok', result: 'x' }));
    refused.records.refuse = (done) => done.status === 'completed';
    expect(await executeToolCall(refused.ports, refused.call({}))).toMatchObject({
      status: 'failed',
      error: { reason: 'result_not_storable' },
    });
    expect(await executeToolCall(refused.ports, refused.call({}))).toMatchObject({ replayed: true });
    expect(refused.runs).toHaveLength(1);
  });
});
