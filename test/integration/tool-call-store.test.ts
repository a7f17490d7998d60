import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { toolSchema } from '../../lambdas/domain/policy';
import { appendTurns, type SessionRef } from '../../lambdas/domain/session';
import { argumentsHash } from '../../lambdas/domain/tool-call';
import {
  type Claim,
  type Completion,
  LockLostError,
  NotStorableError,
} from '../../lambdas/domain/tool-execution';
import { keys } from '../../lambdas/stores/keys';
import { SessionStore } from '../../lambdas/stores/session-store';
import { ToolCallStore } from '../../lambdas/stores/tool-call-store';
import { lambdaRunner } from '../../lambdas/stores/tool-runners';
import { uniqueId } from '../support/ids';

const sessions = new SessionStore();
const store = new ToolCallStore(sessions);

const claimOf = (args: unknown, lockMs = 30_000): Claim => ({
  argsHash: argumentsHash(args),
  toolName: 'weather',
  stepIndex: 0,
  policyVersion: 1,
  lockMs,
  ttlSeconds: 3600,
});

async function newSession(): Promise<{ ref: SessionRef; key: string }> {
  const ref = { tenantId: uniqueId('t'), sessionId: uniqueId('s') };
  await sessions.commit(ref, (prev) =>
    appendTurns(prev, ref, {
      turns: [{ role: 'user', content: 'weather?', tokens: 2 }],
      at: new Date().toISOString(),
      ttlSeconds: 3600,
    }),
  );
  return { ref, key: keys.toolCall(ref.tenantId, ref.sessionId, 0, 'weather').pk };
}

const done = (claim: Claim, result: unknown): Completion => ({
  status: 'completed',
  json: JSON.stringify(result),
  durationMs: 12,
  attempts: 1,
  claim,
});

describe('ToolCallStore (against the emulator)', () => {
  it('lets exactly one of many concurrent claims win and shows the others the in-progress record', async () => {
    // Rounds of 20 racing conditional puts: moto's DynamoDB let up to 5 of 20 win; DynamoDB (Local) one.
    for (let round = 0; round < 10; round++) {
      const key = keys.toolCall(uniqueId('t'), uniqueId('s'), 0, 'weather').pk;
      const results = await Promise.all(
        Array.from({ length: 20 }, () => store.claim(key, claimOf({ round }))),
      );
      expect(results.filter((r) => r.claimed)).toHaveLength(1);
    }
    const { key } = await newSession();
    const claim = claimOf({ city: 'Oslo' });
    const results = await Promise.all(Array.from({ length: 10 }, () => store.claim(key, claim)));
    expect(results.filter((r) => r.claimed)).toHaveLength(1);
    for (const r of results.filter((r) => !r.claimed)) {
      expect(r.claimed === false && r.record).toMatchObject({
        status: 'in_progress',
        argsHash: claim.argsHash,
      });
    }
    const record = await store.get(key);
    expect(record?.expiresAt).toBeGreaterThan(Date.now() / 1000 + 3000);
  });

  it('stores the outcome on the record alone, then logs its tool_invoked event exactly once', async () => {
    const { ref, key } = await newSession();
    const claim = claimOf({ city: 'Oslo' });
    const c = await store.claim(key, claim);
    if (!c.claimed) throw new Error('not claimed');
    const record = await store.complete(key, c.lockToken, done(claim, { tempC: 4 }));
    expect(record).toMatchObject({ status: 'completed', result: { tempC: 4 } });
    expect(record.eventSeq).toBeUndefined();
    // The completion did not touch the session: no event, lastSeq unchanged.
    expect(await sessions.get(ref)).toMatchObject({ version: 1, lastSeq: 1 });

    // A second completion with the same (now spent) lock changes nothing.
    await expect(store.complete(key, c.lockToken, done(claim, { tempC: 99 }))).rejects.toThrow(LockLostError);

    // Racing loggers (the call's own retry, replays): one event, and all of them learn its seq.
    const seqs = await Promise.all(Array.from({ length: 6 }, () => store.logEvent(ref, key, record)));
    expect(seqs).toEqual(Array(6).fill(2));
    expect(await store.logEvent(ref, key, record)).toBe(2);

    const stored = await store.get(key);
    expect(stored).toMatchObject({ status: 'completed', result: { tempC: 4 }, eventSeq: 2 });
    expect(stored?.lockToken).toBeUndefined();
    expect(await sessions.get(ref)).toMatchObject({ version: 1, lastSeq: 2 });
    const { events } = await sessions.listEvents(ref, 0, 10);
    expect(events.map((e) => e.type)).toEqual(['turn_appended', 'tool_invoked']);
    expect(events[1]?.data).toMatchObject({
      tool: 'weather',
      stepIndex: 0,
      idempotencyKey: key,
      outcome: 'completed',
    });
  });

  it('stores any JSON result exactly as JavaScript read it: big, huge and tiny numbers, deep nesting', async () => {
    const { key } = await newSession();
    const claim = claimOf({});
    const c = await store.claim(key, claim);
    if (!c.claimed) throw new Error('not claimed');
    const result = JSON.parse(
      `{"big": 9007199254740993, "huge": 1e300, "tiny": 1e-300, "deep": ${'['.repeat(100)}1${']'.repeat(100)}}`,
    );
    const record = await store.complete(key, c.lockToken, done(claim, result));
    expect(record.result).toEqual(result);
    expect((await store.get(key))?.result).toEqual(result);
  });

  it('reports an item DynamoDB refuses (over 400 KB) as not storable, and leaves the lock to a final write', async () => {
    const { key } = await newSession();
    const claim = claimOf({});
    const c = await store.claim(key, claim);
    if (!c.claimed) throw new Error('not claimed');
    const huge = { ...done(claim, null), json: JSON.stringify('x'.repeat(420 * 1024)) };
    await expect(store.complete(key, c.lockToken, huge)).rejects.toThrow(NotStorableError);
    const failed = {
      ...done(claim, null),
      status: 'failed' as const,
      json: '{"reason":"result_not_storable"}',
    };
    expect(await store.complete(key, c.lockToken, failed)).toMatchObject({
      status: 'failed',
      error: { reason: 'result_not_storable' },
    });
  });

  it('treats a record past its TTL, not yet deleted, as absent: a fresh claim, attempt 1', async () => {
    const key = keys.toolCall(uniqueId('t'), uniqueId('s'), 0, 'weather').pk;
    // An abandoned in-progress record and, below, a completed one, both past their TTL.
    expect(await store.claim(key, { ...claimOf({}, 1), ttlSeconds: -60 })).toMatchObject({ claimed: true });
    await sleep(10);
    expect(await store.get(key)).toBeNull();
    expect(await store.claim(key, claimOf({}))).toMatchObject({
      claimed: true,
      attempts: 1,
      tookOver: false,
    });

    const done2 = keys.toolCall(uniqueId('t'), uniqueId('s'), 0, 'weather').pk;
    const c = await store.claim(done2, { ...claimOf({ a: 1 }), ttlSeconds: -60 });
    if (!c.claimed) throw new Error('not claimed');
    await store.complete(done2, c.lockToken, done(claimOf({ a: 1 }), 'old'));
    // Other arguments under the same key are fine too: the expired call is gone.
    const fresh = await store.claim(done2, claimOf({ b: 2 }));
    expect(fresh).toMatchObject({ claimed: true, attempts: 1, tookOver: false });
    expect(await store.get(done2)).toMatchObject({
      status: 'in_progress',
      argsHash: claimOf({ b: 2 }).argsHash,
    });
    expect((await store.get(done2))?.result).toBeUndefined();
  });

  it('lets a claim under an expired lock be taken over, and fences the old holder out', async () => {
    const { ref, key } = await newSession();
    const claim = claimOf({ city: 'Oslo' }, 300);
    const dead = await store.claim(key, claim);
    if (!dead.claimed) throw new Error('not claimed');
    expect(await store.claim(key, claim)).toMatchObject({ claimed: false });
    await sleep(400);

    // Other arguments never take over, even an abandoned record.
    expect(await store.claim(key, claimOf({ city: 'Bergen' }))).toMatchObject({ claimed: false });
    const next = await store.claim(key, claimOf({ city: 'Oslo' }));
    expect(next).toMatchObject({ claimed: true, attempts: 2, tookOver: true });

    // The old holder wakes up: it can neither release nor complete what is no longer its own.
    await store.release(key, dead.lockToken);
    expect(await store.get(key)).toMatchObject({ status: 'in_progress' });
    await expect(store.complete(key, dead.lockToken, done(claim, 'late'))).rejects.toThrow(LockLostError);
    expect((await sessions.listEvents(ref, 0, 10)).events).toHaveLength(1);
  });

  it('releases a record (retryable failure) so the next claim starts afresh', async () => {
    const { key } = await newSession();
    const claim = claimOf({ city: 'Oslo' });
    const c = await store.claim(key, claim);
    if (!c.claimed) throw new Error('not claimed');
    await store.release(key, c.lockToken);
    expect(await store.get(key)).toBeNull();
    expect(await store.claim(key, claim)).toMatchObject({ claimed: true, attempts: 1, tookOver: false });
  });

  it('keeps two tenants with the same session id, step and tool on separate records', async () => {
    const sessionId = uniqueId('shared');
    const [a, b] = [uniqueId('ta'), uniqueId('tb')];
    const keyA = keys.toolCall(a, sessionId, 0, 'weather').pk;
    const keyB = keys.toolCall(b, sessionId, 0, 'weather').pk;
    expect(keyA).not.toBe(keyB);
    expect(await store.claim(keyA, claimOf({ city: 'Oslo' }))).toMatchObject({ claimed: true });
    expect(await store.claim(keyB, claimOf({ city: 'Oslo' }))).toMatchObject({ claimed: true });
  });

  it('classifies a failed Lambda invoke (no such function) as retryable: the function never ran', async () => {
    const tool = toolSchema.parse({
      name: 'ghost',
      kind: 'lambda',
      arn: `arn:aws:lambda:us-east-1:123456789012:function:${uniqueId('missing')}`,
      timeoutMs: 5000,
    });
    const outcome = await lambdaRunner().run(tool, { x: 1 }, { idempotencyKey: 'k' });
    expect(outcome).toMatchObject({ kind: 'retryable', error: { reason: 'invoke_error' } });
  });
});
