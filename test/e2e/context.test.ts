import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicyStore } from '../../lambdas/stores/policy-store';
import { uniqueId } from '../support/ids';
import { type Started, startProcess } from '../support/start-process';

/** The Context Builder over HTTP against `npm start`'s server, on this run's emulator. */
const tenant = { name: uniqueId('ctxe2e'), key: `key-${uniqueId('k')}` };
let server: Started;

beforeAll(async () => {
  server = await startProcess({ CONTEXT_PLANE_TENANTS: `${tenant.name}:${tenant.key}` });
}, 120_000);

afterAll(async () => {
  if (server) expect(await server.stop()).toBe(0);
});

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant.key}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, body: text ? JSON.parse(text) : undefined };
}

const q = (params: Record<string, string>) => new URLSearchParams(params).toString();

describe('context over HTTP', () => {
  it('answers the same bytes and fingerprint twice, and a new fingerprint after a turn that misses the cache', async () => {
    const sessionId = uniqueId('sess');
    const appended = await call('POST', `/v1/sessions/${sessionId}/turns`, {
      expectedVersion: 0,
      turns: [
        { role: 'user', content: 'My parcel 7 is late.' },
        { role: 'assistant', content: 'Checking parcel 7.' },
      ],
    });
    expect(appended.status).toBe(200);
    await call('POST', '/v1/facts', { text: 'Parcel 7 was handed to the courier on Friday.' });

    const question = 'Where is parcel 7?';
    const first = await call('POST', `/v1/sessions/${sessionId}/context`, {
      route: 'default',
      input: question,
    });
    expect(first.status).toBe(200);
    expect(first.body.policy).toMatchObject({ name: 'default', ref: 'default' });
    expect(first.body.messages[0].content).toContain('handed to the courier');
    expect(first.body.messages.map((m: { role: string }) => m.role)).toEqual([
      'system',
      'user',
      'assistant',
      'user',
    ]);
    const again = await call('POST', `/v1/sessions/${sessionId}/context`, {
      route: 'default',
      input: question,
    });
    expect(again.body.fingerprint).toBe(first.body.fingerprint);
    expect(JSON.stringify(again.body.messages)).toBe(JSON.stringify(first.body.messages));

    const fp1 = first.body.fingerprint as string;
    const put = await call('PUT', '/v1/cache', {
      question,
      fingerprint: fp1,
      answer: 'On its way.',
      sessionId,
      sessionStamp: first.body.sessionStamp,
    });
    expect(put.status).toBe(200);
    expect((await call('GET', `/v1/cache?${q({ question, fingerprint: fp1 })}`)).body.hit).toBe(true);

    const next = await call('POST', `/v1/sessions/${sessionId}/turns`, {
      expectedVersion: 1,
      turns: [{ role: 'user', content: 'It is now a week late.' }],
    });
    expect(next.status).toBe(200);
    const after = await call('POST', `/v1/sessions/${sessionId}/context`, {
      route: 'default',
      input: question,
    });
    const fp2 = after.body.fingerprint as string;
    expect(fp2).not.toBe(fp1);
    expect(after.body.sessionVersion).toBe(2);
    expect((await call('GET', `/v1/cache?${q({ question, fingerprint: fp2 })}`)).body.hit).toBe(false);
    expect((await call('GET', `/v1/cache?${q({ question, fingerprint: fp1 })}`)).body.hit).toBe(false);
    // An answer built on the first context, stored after the session moved: refused, never served.
    const late = await call('PUT', '/v1/cache', {
      question,
      fingerprint: fp1,
      answer: 'On its way.',
      sessionId,
      sessionStamp: first.body.sessionStamp,
    });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('session_moved');
    expect((await call('GET', `/v1/cache?${q({ question, fingerprint: fp1 })}`)).body.hit).toBe(false);
  });

  it('serves the pinned version, clamps a budget above the policy, and names an unknown route', async () => {
    const policies = new PolicyStore();
    const route = uniqueId('pin').toLowerCase();
    const v1 = await policies.publish(route, { systemPrompt: 'Prompt one.', budgets: { facts: 100 } });
    const v2 = await policies.publish(route, { systemPrompt: 'Prompt two.' });
    await policies.label(route, v1, 'stable');
    const sessionId = uniqueId('sess');
    const ask = (r: string, budget?: unknown) =>
      call('POST', `/v1/sessions/${sessionId}/context`, { route: r, input: 'hello', budget });

    const one = await ask(`${route}@${v1}`, { facts: 5000, history: 10 });
    expect(one.status).toBe(200);
    expect(one.body.policy).toEqual({ name: route, version: v1, ref: `${route}@${v1}` });
    expect(one.body.messages[0].content).toBe('Prompt one.');
    expect(one.body.clamped).toEqual([{ source: 'facts', requested: 5000, cap: 100 }]);
    expect(one.body.budget).toMatchObject({ facts: 100, history: 10 });
    expect(one.body.sessionVersion).toBe(0);

    expect((await ask(`${route}:stable`)).body.policy.version).toBe(v1);
    const latest = await ask(route);
    expect(latest.body.policy.version).toBe(v2);
    expect(latest.body.messages[0].content).toBe('Prompt two.');

    const missing = await ask('nope-route');
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toContain("'nope-route'");
    const empty = await call('POST', `/v1/sessions/${sessionId}/context`, { route, input: '' });
    expect(empty.status).toBe(400);
  });
});
