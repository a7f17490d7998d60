import { randomUUID } from 'node:crypto';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { PolicyPins } from '../../lambdas/domain/policy-pins';
import { appendTurns, type SessionRef } from '../../lambdas/domain/session';
import { tiktokenCounter } from '../../lambdas/domain/tokens';
import { deps, handler } from '../../lambdas/handlers/context';
import { FactStore } from '../../lambdas/stores/fact-store';
import { PolicyStore } from '../../lambdas/stores/policy-store';
import { ProfileStore } from '../../lambdas/stores/profile-store';
import { SessionStore } from '../../lambdas/stores/session-store';
import { lambdaContext } from '../../local/server';
import { uniqueId } from '../support/ids';

/** The context handler in-process against the emulator's real stores, with its deps swapped per test. */
const sessions = new SessionStore();
const facts = new FactStore();
const profiles = new ProfileStore();
const policies = new PolicyStore();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let clock = 0;
beforeEach(() => {
  Object.assign(deps, {
    sessions: undefined,
    facts: undefined,
    profiles: undefined,
    policies: undefined,
    deadlineMs: 2000,
    // A fake clock for label TTLs: tests move time instead of waiting for it.
    pins: new PolicyPins(policies, tiktokenCounter, {
      labelTtlMs: 30_000,
      deadlineMs: 2000,
      now: () => clock,
    }),
  });
});

async function build(tenantId: string, sessionId: string, body: unknown) {
  const event = {
    version: '2.0',
    routeKey: 'POST /v1/sessions/{sessionId}/context',
    rawPath: `/v1/sessions/${sessionId}/context`,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    pathParameters: { sessionId },
    body: JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: { requestId: randomUUID(), routeKey: 'x', authorizer: { lambda: { tenantId } } },
  };
  const res = (await handler(event as never, lambdaContext('context'))) as APIGatewayProxyStructuredResultV2;
  return { status: res.statusCode, body: JSON.parse(res.body as string) };
}

async function seed() {
  const tenantId = uniqueId('ctx');
  const sessionId = uniqueId('sess');
  const userId = uniqueId('user');
  const route = uniqueId('route').toLowerCase();
  const ref = { tenantId, sessionId };
  const turns = ['My order 42 has not arrived.', 'Sorry to hear that, let me check order 42.'].map(
    (content, i) => ({
      role: (i % 2 ? 'assistant' : 'user') as 'user' | 'assistant',
      content,
      tokens: tiktokenCounter.count(content),
    }),
  );
  await sessions.commit(
    ref,
    (prev) => appendTurns(prev, ref, { turns, at: new Date().toISOString(), ttlSeconds: 3600 }),
    {
      expectedVersion: 0,
    },
  );
  await facts.upsert(tenantId, {
    text: 'Order 42 shipped on Monday by courier.',
    citations: [{ sessionId, seq: 1 }],
  });
  await facts.upsert(tenantId, { text: 'Refunds are paid within 5 days.', pinned: true });
  await profiles.put(tenantId, userId, 0, { plan: 'pro', locale: 'fr', internalNote: 'do not show' });
  const v1 = await policies.publish(route, {
    systemPrompt: 'You are support v1.',
    profile: { allow: ['plan', 'locale'] },
  });
  return { tenantId, sessionId, userId, route, ref, v1 };
}

describe('context build against the emulator', () => {
  it('hydrates session, facts and profile; same request twice gives the same fingerprint and bytes', async () => {
    const s = await seed();
    const body = { route: s.route, input: 'Where is order 42?', userId: s.userId };
    const a = await build(s.tenantId, s.sessionId, body);
    expect(a.status).toBe(200);
    expect(a.body.degraded).toEqual([]);
    expect(a.body.policy).toEqual({ name: s.route, version: s.v1, ref: s.route });
    const system = a.body.messages[0].content as string;
    expect(system).toContain('Order 42 shipped on Monday by courier.');
    expect(system).toContain('Order 42 shipped on Monday by courier. (cites: #1)');
    expect(system).toContain('- locale: fr');
    expect(system).not.toContain('do not show');
    expect(a.body.messages.map((m: { role: string }) => m.role)).toEqual([
      'system',
      'user',
      'assistant',
      'user',
    ]);
    expect(a.body.usage.tokensTotal).toBe(
      a.body.sections.reduce((n: number, x: { tokens: number }) => n + x.tokens, 0),
    );
    expect(Object.keys(a.body.timings)).toEqual(
      expect.arrayContaining(['policy', 'session', 'facts', 'profile', 'tokenize', 'assemble']),
    );

    const b = await build(s.tenantId, s.sessionId, body);
    expect(b.body.fingerprint).toBe(a.body.fingerprint);
    expect(JSON.stringify(b.body.messages)).toBe(JSON.stringify(a.body.messages));

    // Another tenant with the same session id and a matching fact sees none of this tenant's state.
    const other = uniqueId('ctx');
    await facts.upsert(other, { text: 'Order 42 belongs to another tenant.' });
    const c = await build(other, s.sessionId, body);
    expect(c.body.messages.map((m: { role: string }) => m.role)).toEqual(['system', 'user']);
    expect(c.body.messages[0].content).toContain('another tenant');
    expect(c.body.messages[0].content).not.toContain('courier');
  });

  it('pins a version for good and re-resolves a label after its TTL', async () => {
    const s = await seed();
    const v2 = await policies.publish(s.route, { systemPrompt: 'You are support v2.' });
    await policies.label(s.route, s.v1, 'prod');
    const ask = (route: string) => build(s.tenantId, s.sessionId, { route, input: 'hello' });

    const labelled = await ask(`${s.route}:prod`);
    expect(labelled.body.policy).toEqual({ name: s.route, version: s.v1, ref: `${s.route}:prod` });
    expect(labelled.body.messages[0].content).toMatch(/^You are support v1\./);

    await policies.label(s.route, v2, 'prod');
    clock += 29_000;
    expect((await ask(`${s.route}:prod`)).body.policy.version).toBe(s.v1);
    clock += 2_000;
    const moved = await ask(`${s.route}:prod`);
    expect(moved.body.policy.version).toBe(v2);
    expect(moved.body.messages[0].content).toMatch(/^You are support v2\./);
    expect(moved.body.fingerprint).not.toBe(labelled.body.fingerprint);

    const pinned = await ask(`${s.route}@${s.v1}`);
    await policies.publish(s.route, { systemPrompt: 'You are support v3.' });
    clock += 10_000_000;
    const later = await ask(`${s.route}@${s.v1}`);
    expect(later.body.policy.version).toBe(s.v1);
    expect(later.body.fingerprint).toBe(pinned.body.fingerprint);
    expect((await ask(s.route)).body.policy.version).toBe(v2 + 1);
  });

  it('leaves out a store that misses its deadline and still answers', async () => {
    const s = await seed();
    const slowly =
      <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
      async (...a: A) => {
        await sleep(3000);
        return fn(...a);
      };
    // A deadline the healthy stores meet on a loaded machine (LocalStack in CI took over 100 ms).
    Object.assign(deps, {
      deadlineMs: 1000,
      sessions: { get: slowly((ref: SessionRef) => sessions.get(ref)) },
      profiles: { get: slowly((t: string, u: string) => profiles.get(t, u)) },
    });
    const res = await build(s.tenantId, s.sessionId, {
      route: s.route,
      input: 'Where is order 42?',
      userId: s.userId,
    });
    expect(res.status).toBe(200);
    expect(res.body.degraded).toEqual(['session', 'profile']);
    expect(res.body.sessionVersion).toBeNull();
    expect(res.body.messages.map((m: { role: string }) => m.role)).toEqual(['system', 'user']);
    expect(res.body.messages[0].content).toContain('courier');
    expect(res.body.messages[0].content).not.toContain('locale');
  });

  it('answers 503 when the policy cannot be read, 404 naming an unknown route, 400/413 for bad input', async () => {
    const s = await seed();
    const unreachable = new PolicyStore(
      undefined,
      new SSMClient({ endpoint: 'http://127.0.0.1:9', maxAttempts: 1 }),
    );
    deps.pins = new PolicyPins(unreachable, tiktokenCounter, { labelTtlMs: 1000, deadlineMs: 2000 });
    const down = await build(s.tenantId, s.sessionId, { route: s.route, input: 'hi' });
    expect(down.status).toBe(503);
    expect(down.body.error).toMatchObject({ code: 'store_unavailable', details: { store: 'policy' } });

    deps.pins = undefined;
    deps.policies = policies;
    const missing = await build(s.tenantId, s.sessionId, { route: 'no-such-route', input: 'hi' });
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toContain('no-such-route');
    expect((await build(s.tenantId, s.sessionId, { route: `${s.route}:nolabel`, input: 'hi' })).status).toBe(
      404,
    );

    const blank = await build(s.tenantId, s.sessionId, { route: s.route, input: '   ' });
    expect(blank.status).toBe(400);
    expect(blank.body.error.details.fields[0].path).toBe('input');
    const big = await build(s.tenantId, s.sessionId, { route: s.route, input: 'word '.repeat(5000) });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('input_too_large');
  });
});
