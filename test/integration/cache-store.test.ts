import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { env } from '../../lambdas/config';
import { cacheDigest, normalizeQuestion } from '../../lambdas/domain/cache';
import { appendTurns, type SessionRef } from '../../lambdas/domain/session';
import { CacheStore } from '../../lambdas/stores/cache-store';
import { dynamo } from '../../lambdas/stores/clients';
import { keys } from '../../lambdas/stores/keys';
import { SessionStore } from '../../lambdas/stores/session-store';
import { uniqueId } from '../support/ids';

const cache = new CacheStore();
const sessions = new SessionStore();
const appendTurn = (ref: SessionRef, expectedVersion: number) =>
  sessions.commit(
    ref,
    (prev) =>
      appendTurns(prev, ref, {
        turns: [{ role: 'user', content: 'hi', tokens: 1 }],
        at: new Date().toISOString(),
        ttlSeconds: 3600,
      }),
    { expectedVersion },
  );

describe('CacheStore against the emulator', () => {
  it('hits on the normalized question and the same fingerprint only, and sets the TTL attribute', async () => {
    const tenant = uniqueId('t');
    const entry = await cache.put(tenant, {
      question: 'What is the refund window?',
      fingerprint: 'fp-1',
      answer: '30 days',
    });
    expect(entry.expiresAt).toBeGreaterThan(Date.now() / 1000 + 3500);
    expect((await cache.get(tenant, '  what is THE refund window ', 'fp-1'))?.answer).toBe('30 days');
    expect(await cache.get(tenant, 'What is the refund window?', 'fp-2')).toBeNull();
    expect(await cache.get(tenant, 'What is the return window?', 'fp-1')).toBeNull();
  });

  it('round-trips any JSON answer, whatever its numbers or depth', async () => {
    const tenant = uniqueId('t');
    let deep: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 40; i++) deep = { next: deep };
    const answer = { big: 2 ** 60, tiny: 1e-200, deep };
    await cache.put(tenant, { question: 'q', fingerprint: 'f', answer });
    expect((await cache.get(tenant, 'q', 'f'))?.answer).toEqual(answer);
  });

  it('misses once the tied session moved, even with the old fingerprint', async () => {
    const ref = { tenantId: uniqueId('t'), sessionId: uniqueId('s') };
    await appendTurn(ref, 0);
    const input = {
      question: 'q',
      fingerprint: 'fp-old',
      answer: { text: 'a' },
      sessionId: ref.sessionId,
      sessionStamp: '1.0',
    };
    expect((await cache.put(ref.tenantId, input)).sessionStamp).toBe('1.0');
    expect((await cache.get(ref.tenantId, 'q', 'fp-old'))?.answer).toEqual({ text: 'a' });
    await appendTurn(ref, 1);
    expect(await cache.get(ref.tenantId, 'q', 'fp-old')).toBeNull();
  });

  it('misses once a session that did not exist at put time is created', async () => {
    const ref = { tenantId: uniqueId('t'), sessionId: uniqueId('s') };
    expect(
      (
        await cache.put(ref.tenantId, {
          question: 'q',
          fingerprint: 'f',
          answer: 'a',
          sessionId: ref.sessionId,
          sessionStamp: '0.0',
        })
      ).sessionStamp,
    ).toBe('0.0');
    expect(await cache.get(ref.tenantId, 'q', 'f')).not.toBeNull();
    await appendTurn(ref, 0);
    expect(await cache.get(ref.tenantId, 'q', 'f')).toBeNull();
  });

  it('refuses an answer built on a session state that has moved since (409), and stores none', async () => {
    const ref = { tenantId: uniqueId('t'), sessionId: uniqueId('s') };
    await appendTurn(ref, 0);
    await appendTurn(ref, 1);
    const built = {
      question: 'q',
      fingerprint: 'f1',
      answer: 'a',
      sessionId: ref.sessionId,
      sessionStamp: '1.0',
    };
    await expect(cache.put(ref.tenantId, built)).rejects.toMatchObject({
      status: 409,
      code: 'session_moved',
    });
    expect(await cache.get(ref.tenantId, 'q', 'f1')).toBeNull();
  });

  it('treats an expired entry as a miss while the item still exists (DynamoDB deletes them only eventually)', async () => {
    const tenant = uniqueId('t');
    await cache.put(tenant, { question: 'q', fingerprint: 'f', answer: 'a', ttlSeconds: 60 });
    const key = keys.cacheEntry(tenant, cacheDigest(normalizeQuestion('q'), 'f'));
    await dynamo().send(
      new UpdateCommand({
        TableName: env('cacheTable'),
        Key: key,
        UpdateExpression: 'SET expiresAt = :past',
        ExpressionAttributeValues: { ':past': Math.floor(Date.now() / 1000) - 1 },
      }),
    );
    expect(
      (await dynamo().send(new GetCommand({ TableName: env('cacheTable'), Key: key }))).Item,
    ).toBeDefined();
    expect(await cache.get(tenant, 'q', 'f')).toBeNull();
  });

  it("never serves another tenant's entry for the same question and fingerprint", async () => {
    const a = uniqueId('t');
    const b = uniqueId('t');
    await cache.put(a, { question: 'q', fingerprint: 'f', answer: 'for a' });
    expect(await cache.get(b, 'q', 'f')).toBeNull();
  });
});
