import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argumentsHash } from '../../lambdas/domain/tool-call';
import { keys } from '../../lambdas/stores/keys';
import { PolicyStore } from '../../lambdas/stores/policy-store';
import { ToolCallStore } from '../../lambdas/stores/tool-call-store';
import { uniqueId } from '../support/ids';
import { type Started, startProcess } from '../support/start-process';

/**
 * The tool executor over HTTP, against `npm start`'s server on this run's emulator (its own process:
 * it loads the TypeScript handlers with tsx). A local HTTP tool counts its own side effects and is
 * registered in a policy published for this file's own route.
 */

interface ToolServer {
  url: string;
  /** side effects per Idempotency-Key */
  effects: Map<string, number>;
  total: () => number;
  /** answers every call held at /gate */
  openGate(): void;
  close(): Promise<void>;
}

async function startToolServer(): Promise<ToolServer> {
  const effects = new Map<string, number>();
  let counter = 0;
  const flakyFailed = new Set<string>();
  let openGate = () => {};
  const gate = new Promise<void>((r) => {
    openGate = r;
  });
  const server = http.createServer(async (req, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const key = String(req.headers['idempotency-key']);
    const args = JSON.parse(raw || '{}');
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/gate') await gate;
    if (req.url === '/slow') return void setTimeout(() => reply(200, { late: true }), 2000);
    if (req.url === '/reject') {
      effects.set(key, (effects.get(key) ?? 0) + 1);
      return reply(400, { error: 'unknown city' });
    }
    if (req.url === '/flaky' && !flakyFailed.has(key)) {
      flakyFailed.add(key);
      effects.set(key, (effects.get(key) ?? 0) + 1);
      return reply(503, { error: 'try later' });
    }
    // The side effect: slow enough that concurrent duplicates overlap with it.
    await sleep(300);
    counter += 1;
    effects.set(key, (effects.get(key) ?? 0) + 1);
    reply(200, { booking: counter, city: args.city, key });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    effects,
    total: () => [...effects.values()].reduce((a, b) => a + b, 0),
    openGate: () => openGate(),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

let runtime: Started;
let tools: ToolServer;
const route = uniqueId('tools').toLowerCase();
const tenantA = { name: uniqueId('ta'), key: `cp_${uniqueId('ka')}` };
const tenantB = { name: uniqueId('tb'), key: `cp_${uniqueId('kb')}` };

const citySchema = {
  type: 'object',
  required: ['city'],
  additionalProperties: false,
  properties: { city: { type: 'string', minLength: 1 }, nights: { type: 'integer', minimum: 1 } },
};

async function call(
  path: string,
  body: unknown,
  opts: { key?: string; method?: string; headers?: Record<string, string> } = {},
) {
  const res = await fetch(`${runtime.url}${path}`, {
    method: opts.method ?? 'POST',
    headers: {
      authorization: `Bearer ${opts.key ?? tenantA.key}`,
      'content-type': 'application/json',
      ...opts.headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers, asserted field by field
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

const invoke = (sessionId: string, tool: string, body: unknown, opts: Parameters<typeof call>[2] = {}) =>
  call(`/v1/sessions/${sessionId}/tools/${tool}/invocations`, body, opts);

async function newSession(key = tenantA.key) {
  const sessionId = uniqueId('s');
  const res = await call(
    `/v1/sessions/${sessionId}/turns`,
    { expectedVersion: 0, turns: [{ role: 'user', content: 'book me a hotel' }] },
    { key },
  );
  expect(res.status).toBe(200);
  return sessionId;
}

async function toolEvents(sessionId: string, key = tenantA.key) {
  const res = await call(`/v1/sessions/${sessionId}/events?after=0&limit=500`, undefined, {
    key,
    method: 'GET',
  });
  return (res.body.events as { type: string; data: Record<string, unknown> }[]).filter(
    (e) => e.type === 'tool_invoked',
  );
}

beforeAll(async () => {
  tools = await startToolServer();
  runtime = await startProcess({
    CONTEXT_PLANE_TENANTS: `${tenantA.name}:${tenantA.key},${tenantB.name}:${tenantB.key}`,
  });
  const http = (name: string, path: string, timeoutMs = 5000) => ({
    name,
    kind: 'http' as const,
    url: `${tools.url}${path}`,
    timeoutMs,
    inputSchema: citySchema,
  });
  await new PolicyStore().publish(route, {
    systemPrompt: 'You book hotels.',
    tools: [
      http('book', '/book'),
      http('reject', '/reject'),
      http('flaky', '/flaky'),
      http('slow', '/slow', 200),
      http('gated', '/gate'),
    ],
  });
}, 120_000);

afterAll(async () => {
  if (runtime) expect(await runtime.stop()).toBe(0);
  await tools?.close();
});

describe('POST /v1/sessions/{id}/tools/{tool}/invocations', () => {
  it('runs the tool exactly once for 20 concurrent calls and 20 retries, all with the same answer and one event', async () => {
    const sessionId = await newSession();
    const body = { route, stepIndex: 0, arguments: { city: 'Oslo', nights: 2 } };
    const concurrent = await Promise.all(
      Array.from({ length: 20 }, () => invoke(sessionId, 'book', body, { headers: { prefer: 'wait=10' } })),
    );
    const sequential = [];
    for (let i = 0; i < 20; i++) sequential.push(await invoke(sessionId, 'book', body));

    const all = [...concurrent, ...sequential];
    expect(all.map((r) => r.status)).toEqual(Array(40).fill(200));
    const key = keys.toolCall(tenantA.name, sessionId, 0, 'book').pk;
    expect(tools.effects.get(key)).toBe(1);
    const first = all.find((r) => !r.body.replayed)!;
    for (const r of all) expect(r.body.result).toEqual(first.body.result);
    expect(first.body.result).toMatchObject({ city: 'Oslo', key });
    expect(all.filter((r) => !r.body.replayed)).toHaveLength(1);
    expect(concurrent.some((r) => r.headers.get('preference-applied') === 'wait=10')).toBe(true);

    const events = await toolEvents(sessionId);
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toMatchObject({
      tool: 'book',
      stepIndex: 0,
      idempotencyKey: key,
      outcome: 'completed',
    });
    expect(events[0]!.data.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('answers a duplicate in progress with 409 and Retry-After when it does not ask to wait', async () => {
    const sessionId = await newSession();
    const body = { route, stepIndex: 0, arguments: { city: 'Rome' } };
    const first = invoke(sessionId, 'gated', body);
    // The first call holds the record while the tool is held at the gate.
    const key = keys.toolCall(tenantA.name, sessionId, 0, 'gated').pk;
    while ((await new ToolCallStore().get(key))?.status !== 'in_progress') await sleep(20);
    const dup = await invoke(sessionId, 'gated', body);
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('in_progress');
    expect(dup.headers.get('retry-after')).toBe(String(dup.body.error.details.retryAfterSeconds));
    tools.openGate();
    expect((await first).status).toBe(200);
    expect(tools.effects.get(key)).toBe(1);
  });

  it('takes over a call whose worker died once its lock expires, and only then', async () => {
    const sessionId = await newSession();
    const args = { city: 'Lima' };
    const key = keys.toolCall(tenantA.name, sessionId, 3, 'book').pk;
    // A worker claims the call and dies: its lock (3 s here) is never released or completed.
    const dead = await new ToolCallStore().claim(key, {
      argsHash: argumentsHash(args),
      toolName: 'book',
      stepIndex: 3,
      policyVersion: 1,
      lockMs: 3000,
      ttlSeconds: 3600,
    });
    expect(dead.claimed).toBe(true);

    const blocked = await invoke(sessionId, 'book', { route, stepIndex: 3, arguments: args });
    expect(blocked.status).toBe(409);
    expect(tools.effects.get(key)).toBeUndefined();

    // Prefer: wait outlasts the dead lock: the waiter takes the call over and runs it.
    const taken = await invoke(
      sessionId,
      'book',
      { route, stepIndex: 3, arguments: args },
      { headers: { prefer: 'wait=5' } },
    );
    expect(taken.status).toBe(200);
    expect(taken.body).toMatchObject({ status: 'completed', replayed: false, attempts: 2 });
    expect(tools.effects.get(key)).toBe(1);

    const again = await invoke(sessionId, 'book', { route, stepIndex: 3, arguments: args });
    expect(again.body).toMatchObject({ replayed: true, result: taken.body.result });
    expect(await toolEvents(sessionId)).toHaveLength(1);
  });

  it('refuses the same key with other arguments (422) and does not run the tool', async () => {
    const sessionId = await newSession();
    const ok = await invoke(sessionId, 'book', {
      route,
      stepIndex: 1,
      arguments: { city: 'Kyiv', nights: 1 },
    });
    expect(ok.status).toBe(200);
    // Same arguments in another key order are the same call.
    const same = await invoke(sessionId, 'book', {
      route,
      stepIndex: 1,
      arguments: { nights: 1, city: 'Kyiv' },
    });
    expect(same.body.replayed).toBe(true);
    const reused = await invoke(sessionId, 'book', {
      route,
      stepIndex: 1,
      arguments: { city: 'Kyiv', nights: 3 },
    });
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('idempotency_key_reused');
    expect(tools.effects.get(keys.toolCall(tenantA.name, sessionId, 1, 'book').pk)).toBe(1);
  });

  it('never shares a record between two tenants with the same session id, step and tool', async () => {
    const sessionId = uniqueId('shared');
    for (const key of [tenantA.key, tenantB.key]) {
      const res = await call(
        `/v1/sessions/${sessionId}/turns`,
        { expectedVersion: 0, turns: [{ role: 'user', content: 'hi' }] },
        { key },
      );
      expect(res.status).toBe(200);
    }
    const body = { route, stepIndex: 0, arguments: { city: 'Oslo' } };
    const a = await invoke(sessionId, 'book', body, { key: tenantA.key });
    const b = await invoke(sessionId, 'book', body, { key: tenantB.key });
    expect([a.body.replayed, b.body.replayed]).toEqual([false, false]);
    expect(a.body.result.booking).not.toBe(b.body.result.booking);
    expect(tools.effects.get(keys.toolCall(tenantA.name, sessionId, 0, 'book').pk)).toBe(1);
    expect(tools.effects.get(keys.toolCall(tenantB.name, sessionId, 0, 'book').pk)).toBe(1);
    expect(await toolEvents(sessionId, tenantA.key)).toHaveLength(1);
    expect(await toolEvents(sessionId, tenantB.key)).toHaveLength(1);
  });

  it('replays a final failure (4xx) and retries a transient one (5xx)', async () => {
    const sessionId = await newSession();
    const body = { route, stepIndex: 0, arguments: { city: 'Atlantis' } };
    const rejected = await invoke(sessionId, 'reject', body);
    expect(rejected.status).toBe(200);
    expect(rejected.body).toMatchObject({ status: 'failed', replayed: false, error: { httpStatus: 400 } });
    const replayed = await invoke(sessionId, 'reject', body);
    expect(replayed.body).toMatchObject({ status: 'failed', replayed: true, error: { httpStatus: 400 } });
    expect(tools.effects.get(keys.toolCall(tenantA.name, sessionId, 0, 'reject').pk)).toBe(1);

    const flakyKey = keys.toolCall(tenantA.name, sessionId, 0, 'flaky').pk;
    const failed = await invoke(sessionId, 'flaky', body);
    expect(failed.status).toBe(502);
    expect(failed.body.error).toMatchObject({
      code: 'tool_unavailable',
      details: { retryable: true, httpStatus: 503 },
    });
    const retried = await invoke(sessionId, 'flaky', body);
    expect(retried.body).toMatchObject({ status: 'completed', replayed: false });
    expect(tools.effects.get(flakyKey)).toBe(2);

    const slow = await invoke(sessionId, 'slow', body);
    expect(slow.status).toBe(504);
    expect(slow.body.error.code).toBe('tool_timeout');

    const events = await toolEvents(sessionId);
    expect(events.map((e) => [e.data.tool, e.data.outcome])).toEqual([
      ['reject', 'failed'],
      ['flaky', 'completed'],
    ]);
  });

  it('validates arguments against the tool’s schema (400 naming the field) before running anything', async () => {
    const sessionId = await newSession();
    const before = tools.total();
    const res = await invoke(sessionId, 'book', { route, stepIndex: 0, arguments: { nights: 0 } });
    expect(res.status).toBe(400);
    expect(res.body.error.details.fields.map((f: { path: string }) => f.path).sort()).toEqual([
      'arguments.city',
      'arguments.nights',
    ]);
    const noStep = await invoke(sessionId, 'book', { route, arguments: { city: 'Oslo' } });
    expect(noStep.status).toBe(400);
    expect(noStep.body.error.details.fields[0].path).toBe('stepIndex');
    expect(tools.total()).toBe(before);
  });

  it('answers 404 for an unknown tool, route or session', async () => {
    const sessionId = await newSession();
    const args = { stepIndex: 0, arguments: { city: 'Oslo' } };
    const tool = await invoke(sessionId, 'nope', { ...args, route });
    expect([tool.status, tool.body.error.details]).toEqual([404, { tool: 'nope' }]);
    const noRoute = await invoke(sessionId, 'book', { ...args, route: uniqueId('none').toLowerCase() });
    expect(noRoute.status).toBe(404);
    const noSession = await invoke(uniqueId('ghost'), 'book', { ...args, route });
    expect([noSession.status, noSession.body.error.details]).toMatchObject([
      404,
      { session: expect.any(String) },
    ]);
  });
});
