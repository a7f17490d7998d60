import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicyStore } from '../../lambdas/stores/policy-store';
import { uniqueId } from '../support/ids';
import { type Started, startProcess } from '../support/start-process';

/**
 * The fault suite: `npm start`'s server talks to DynamoDB through a proxy this test switches between
 * passing through, killed (port closed), frozen (accepts, never answers), throttling (400
 * ThrottlingException) and failing (503). Every route must answer 503 store_unavailable with
 * Retry-After within its deadline, never 500 or a hang, and serve again once the store is back.
 */

const DEADLINE_MS = 1000;
/** the slowest path: the authorizer's lookup, then the function's own, each up to the deadline */
const MAX_ANSWER_MS = 2 * DEADLINE_MS + 1500;

type Mode = 'pass' | 'kill' | 'freeze' | 'throttle' | 'error';

interface StoreProxy {
  url: string;
  set(mode: Mode): Promise<void>;
  close(): Promise<void>;
}

async function startStoreProxy(upstream: URL): Promise<StoreProxy> {
  let mode: Mode = 'pass';
  const server = http.createServer((req, res) => {
    if (mode === 'freeze') return; // holds the request until the mode changes
    if (mode === 'throttle' || mode === 'error') {
      req.resume();
      const throttled = mode === 'throttle';
      res.writeHead(throttled ? 400 : 503, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(
        JSON.stringify({
          __type: `com.amazonaws.dynamodb.v20120810#${throttled ? 'ThrottlingException' : 'InternalServerError'}`,
          message: throttled ? 'Rate of requests exceeds the allowed throughput.' : 'injected failure',
        }),
      );
      return;
    }
    const out = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  const listen = (port: number) => new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  await listen(0);
  const { port } = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  return {
    url: `http://127.0.0.1:${port}`,
    async set(next) {
      if (mode === 'kill' && next !== 'kill') await listen(port);
      mode = next;
      // A killed store drops its connections; otherwise each request is answered by the mode it meets.
      if (next === 'kill') await close();
    },
    close: () => (mode === 'kill' ? Promise.resolve() : close()),
  };
}

/** A tool that answers at once; it never runs while the store is down (the claim comes first). */
async function startTool(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const main = { name: uniqueId('faults'), key: `cp_${uniqueId('kf')}` };
/** one per outage: a valid key the authorizer first sees while the store is down */
const fresh = (['kill', 'freeze', 'throttle', 'error'] as const).map((m) => ({
  mode: m,
  name: uniqueId(`faults-${m}`),
  key: `cp_${uniqueId(`k${m}`)}`,
}));
const route = uniqueId('faults').toLowerCase();
const sessionId = uniqueId('fs');
const userId = uniqueId('fu');

let proxy: StoreProxy;
let tool: { url: string; close: () => Promise<void> };
let server: Started;

interface Answer {
  status: number;
  body: { error?: { code: string; details?: Record<string, unknown> } } & Record<string, unknown>;
  retryAfter: string | null;
  ms: number;
}

async function call(method: string, path: string, body?: unknown, key: string | null = main.key) {
  const started = performance.now();
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text ? JSON.parse(text) : {},
    retryAfter: res.headers.get('retry-after'),
    ms: performance.now() - started,
  } as Answer;
}

/** One request per route; `round` keeps writes new (fresh session, user, step) so each can succeed. */
function traffic(round: number): Record<string, () => Promise<Answer>> {
  const id = `${sessionId}-${round}`;
  return {
    append: () =>
      call('POST', `/v1/sessions/${id}/turns`, {
        expectedVersion: 0,
        turns: [{ role: 'user', content: 'hello' }],
      }),
    read: () => call('GET', `/v1/sessions/${sessionId}`),
    events: () => call('GET', `/v1/sessions/${sessionId}/events?after=0`),
    context: () => call('POST', `/v1/sessions/${sessionId}/context`, { route, input: 'hello again' }),
    tool: () =>
      call('POST', `/v1/sessions/${sessionId}/tools/ping/invocations`, {
        route,
        stepIndex: round,
        arguments: {},
      }),
    factPut: () => call('POST', '/v1/facts', { key: `k${round}`, text: 'The office opens at nine.' }),
    factSearch: () => call('GET', '/v1/facts?query=office%20opens'),
    profilePut: () =>
      call('PUT', `/v1/users/${userId}-${round}/profile`, {
        expectedVersion: 0,
        attributes: { tier: 'gold' },
      }),
    profileGet: () => call('GET', `/v1/users/${userId}/profile`),
    cachePut: () =>
      call('PUT', '/v1/cache', { question: 'when does the office open', fingerprint: 'fp', answer: 'nine' }),
    cacheGet: () => call('GET', '/v1/cache?question=when%20does%20the%20office%20open&fingerprint=fp'),
  };
}

async function run(round: number): Promise<Record<string, Answer>> {
  const entries = Object.entries(traffic(round));
  const answers = await Promise.all(entries.map(([, send]) => send()));
  return Object.fromEntries(entries.map(([name], i) => [name, answers[i]!]));
}

function expectServed(answers: Record<string, Answer>) {
  for (const [name, a] of Object.entries(answers)) {
    expect(a.status, `${name}: ${JSON.stringify(a.body)}`).toBeGreaterThanOrEqual(200);
    expect(a.status, `${name}: ${JSON.stringify(a.body)}`).toBeLessThan(300);
  }
}

function expectUnavailable(name: string, a: Answer) {
  expect({ name, status: a.status, code: a.body.error?.code }).toEqual({
    name,
    status: 503,
    code: 'store_unavailable',
  });
  expect(Number(a.retryAfter), name).toBeGreaterThan(0);
  expect(a.ms, name).toBeLessThan(MAX_ANSWER_MS);
}

beforeAll(async () => {
  const upstream = new URL(process.env.AWS_ENDPOINT_URL_DYNAMODB ?? process.env.AWS_ENDPOINT_URL!);
  [proxy, tool] = await Promise.all([startStoreProxy(upstream), startTool()]);
  server = await startProcess({
    CONTEXT_PLANE_TENANTS: [main, ...fresh].map((t) => `${t.name}:${t.key}`).join(','),
    AWS_ENDPOINT_URL_DYNAMODB: proxy.url,
    CP_STORE_CALL_DEADLINE_MS: String(DEADLINE_MS),
  });
  await new PolicyStore().publish(route, {
    systemPrompt: 'You answer briefly.',
    tools: [{ name: 'ping', kind: 'http', url: tool.url, timeoutMs: 1000 }],
  });
  // What the reads read, and the main key in the authorizer's cache.
  const created = await call('POST', `/v1/sessions/${sessionId}/turns`, {
    expectedVersion: 0,
    turns: [{ role: 'user', content: 'hello' }],
  });
  expect(created.status).toBe(200);
  expect(
    (await call('PUT', `/v1/users/${userId}/profile`, { expectedVersion: 0, attributes: { tier: 'gold' } }))
      .status,
  ).toBe(201);
  expectServed(await run(0));
}, 120_000);

afterAll(async () => {
  await proxy?.set('pass');
  if (server) expect(await server.stop()).toBe(0);
  await Promise.all([proxy?.close(), tool?.close()]);
});

describe('the store killed, frozen, throttled or failing during each route', () => {
  for (const [i, { mode, key }] of fresh.entries()) {
    it(`${mode}: 503 store_unavailable with Retry-After within the deadline, then served again`, async () => {
      await proxy.set(mode);
      const [answers, newKey, health] = await Promise.all([
        run(i + 1),
        call('GET', `/v1/sessions/${sessionId}`, undefined, key),
        call('GET', '/v1/health', undefined, null),
      ]);
      for (const [name, a] of Object.entries(answers)) {
        // The context leaves a store it cannot read out and says so; nothing else can do without it.
        if (name === 'context') {
          expect(a.status, JSON.stringify(a.body)).toBe(200);
          expect(a.body.degraded).toEqual(expect.arrayContaining(['session']));
          expect(a.ms).toBeLessThan(MAX_ANSWER_MS);
        } else expectUnavailable(name, a);
      }
      expectUnavailable('never-seen key', newKey);
      // Health says up or down per store, never why (a store's error can name the role and account).
      expect(health.status).toBe(503);
      expect(health.body.stores).toMatchObject({ sessionsTable: { status: 'down' } });
      for (const s of Object.values(health.body.stores as Record<string, unknown>)) {
        expect(Object.keys(s as object)).toEqual(['status']);
      }

      await proxy.set('pass');
      expectServed(await run(10 + i));
      const recovered = await call('GET', `/v1/sessions/${sessionId}`, undefined, key);
      // The store is back: the key resolves (its session does not exist for that tenant).
      expect(recovered.status).toBe(404);
      expect((await call('GET', '/v1/health', undefined, null)).status).toBe(200);
    });
  }

  it('a key that is no key is still refused once the store is back', async () => {
    await proxy.set('kill');
    const bogus = `cp_${uniqueId('bogus')}`;
    expectUnavailable('bogus key', await call('GET', `/v1/sessions/${sessionId}`, undefined, bogus));
    await proxy.set('pass');
    expect((await call('GET', `/v1/sessions/${sessionId}`, undefined, bogus)).status).toBe(401);
  });
});

describe('a stored policy that does not parse', () => {
  it('is 503 policy_invalid naming the route and version, not the client’s 400', async () => {
    const bad = uniqueId('badpolicy').toLowerCase();
    const { Version } = await new SSMClient({}).send(
      new PutParameterCommand({
        Name: new PolicyStore().nameOf(bad),
        Value: JSON.stringify({ systemPrompt: 42 }),
        Type: 'String',
      }),
    );
    const res = await call('POST', `/v1/sessions/${sessionId}/context`, { route: bad, input: 'hi' });
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({
      code: 'policy_invalid',
      details: { route: bad, version: Version },
    });
  });
});
