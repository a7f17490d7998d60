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
 * Exactly-once under the load a model makes: parallel tool calls of one step on one session, over HTTP
 * against `npm start`'s server. A local HTTP tool counts its side effects per Idempotency-Key.
 */

const ROUNDS = Number(process.env.CP_TEST_TOOL_ROUNDS ?? 10);
const PARALLEL = 50;

interface ToolServer {
  url: string;
  effects: Map<string, number>;
  close(): Promise<void>;
}

/** Deeply nested JSON: JavaScript parses it, but cannot serialize it again (nor could DynamoDB hold it). */
const DEEP = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;

async function startToolServer(): Promise<ToolServer> {
  const effects = new Map<string, number>();
  const server = http.createServer(async (req, res) => {
    for await (const _ of req);
    const key = String(req.headers['idempotency-key']);
    // The side effect, slow enough that the calls of one round overlap.
    await sleep(20);
    const count = (effects.get(key) ?? 0) + 1;
    effects.set(key, count);
    const bodies: Record<string, string> = {
      '/deep': DEEP,
      '/numbers': `{"big": 9007199254740993, "huge": 1e300, "tiny": 1e-300, "deep": ${'['.repeat(40)}1${']'.repeat(40)}}`,
    };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(bodies[req.url ?? ''] ?? JSON.stringify({ key, count }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    effects,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

let runtime: Started;
let tools: ToolServer;
const route = uniqueId('once').toLowerCase();
const tenant = { name: uniqueId('t'), key: `cp_${uniqueId('k')}` };

async function call(
  path: string,
  body: unknown,
  opts: { method?: string; headers?: Record<string, string> } = {},
) {
  const res = await fetch(`${runtime.url}${path}`, {
    method: opts.method ?? 'POST',
    headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json', ...opts.headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers, asserted field by field
  return { status: res.status, body: (await res.json()) as any };
}

const invoke = (sessionId: string, tool: string, stepIndex: number, headers?: Record<string, string>) =>
  call(
    `/v1/sessions/${sessionId}/tools/${tool}/invocations`,
    { route, stepIndex, arguments: {} },
    { headers },
  );

async function newSession() {
  const sessionId = uniqueId('s');
  const res = await call(`/v1/sessions/${sessionId}/turns`, {
    expectedVersion: 0,
    turns: [{ role: 'user', content: 'do fifty things at once' }],
  });
  expect(res.status).toBe(200);
  return sessionId;
}

async function toolEvents(sessionId: string) {
  const res = await call(`/v1/sessions/${sessionId}/events?after=0&limit=500`, undefined, { method: 'GET' });
  return (res.body.events as { seq: number; type: string; data: Record<string, unknown> }[]).filter(
    (e) => e.type === 'tool_invoked',
  );
}

beforeAll(async () => {
  tools = await startToolServer();
  // A short lock, so that a call left in progress would be taken over (and run again) within the test.
  runtime = await startProcess({
    CONTEXT_PLANE_TENANTS: `${tenant.name}:${tenant.key}`,
    CP_TOOL_LOCK_MARGIN_MS: '1000',
  });
  const tool = (name: string) => ({
    name,
    kind: 'http' as const,
    url: `${tools.url}/${name}`,
    timeoutMs: 2000,
  });
  await new PolicyStore().publish(route, {
    systemPrompt: 'You do many things.',
    tools: [tool('count'), tool('deep'), tool('numbers')],
  });
}, 120_000);

afterAll(async () => {
  if (runtime) expect(await runtime.stop()).toBe(0);
  await tools?.close();
});

describe('exactly-once tools under parallel calls on one session', () => {
  it(`runs each of ${PARALLEL} parallel steps once per round (${ROUNDS} rounds), and every retry replays`, async () => {
    const sessions: string[] = [];
    const firsts = [];
    for (let round = 0; round < ROUNDS; round++) {
      const sessionId = await newSession();
      sessions.push(sessionId);
      firsts.push(
        ...(await Promise.all(
          Array.from({ length: PARALLEL }, (_, step) => invoke(sessionId, 'count', step)),
        )),
      );
    }
    // Retries of every call, in parallel per session; waiting past any lock a failed first call left.
    const retries = [];
    for (const sessionId of sessions) {
      retries.push(
        ...(await Promise.all(
          Array.from({ length: PARALLEL }, (_, step) =>
            invoke(sessionId, 'count', step, { prefer: 'wait=5' }),
          ),
        )),
      );
    }

    const statuses = (rs: { status: number }[]) => {
      const by: Record<number, number> = {};
      for (const r of rs) by[r.status] = (by[r.status] ?? 0) + 1;
      return by;
    };
    const runs = [...tools.effects.entries()].filter(([k]) => k.includes('#TOOL#count'));
    const ranTwice = runs.filter(([, n]) => n > 1).length;
    console.log(
      `[exactly-once] first calls ${JSON.stringify(statuses(firsts))}, retries ${JSON.stringify(statuses(retries))}, ` +
        `retries replayed ${retries.filter((r) => r.body.replayed === true).length}/${retries.length}, ` +
        `keys run more than once ${ranTwice}/${runs.length}, ` +
        `first answers sent before their event landed ${firsts.filter((r) => r.status === 200 && r.body.eventSeq === undefined).length}`,
    );

    expect(statuses(firsts)).toEqual({ 200: ROUNDS * PARALLEL });
    expect(runs).toHaveLength(ROUNDS * PARALLEL);
    expect(ranTwice).toBe(0);
    for (const [i, r] of retries.entries()) {
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ status: 'completed', replayed: true, result: firsts[i]!.body.result });
    }
    // One event per call, each naming its own key, whatever the contention on the session item.
    for (const sessionId of sessions) {
      const events = await toolEvents(sessionId);
      expect(events.map((e) => e.data.stepIndex).sort((a, b) => Number(a) - Number(b))).toEqual(
        Array.from({ length: PARALLEL }, (_, i) => i),
      );
    }
    const seqs = retries.map((r) => r.body.eventSeq);
    expect(seqs.every((s) => typeof s === 'number')).toBe(true);
  }, 300_000);

  it('stores a result DynamoDB could not hold as JSON: numbers and depth replay as first answered', async () => {
    const sessionId = await newSession();
    const first = await invoke(sessionId, 'numbers', 0);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: 'completed', replayed: false });
    expect(first.body.result).toMatchObject({ huge: 1e300, tiny: 1e-300, big: 2 ** 53 });
    const again = await invoke(sessionId, 'numbers', 0);
    expect(again.body).toMatchObject({ status: 'completed', replayed: true, result: first.body.result });
    expect(tools.effects.get(keys.toolCall(tenant.name, sessionId, 0, 'numbers').pk)).toBe(1);
  });

  it('turns a result that cannot be stored into a stored, final failure: a retry never runs the tool again', async () => {
    const sessionId = await newSession();
    const first = await invoke(sessionId, 'deep', 0);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      status: 'failed',
      replayed: false,
      error: { reason: 'result_not_storable' },
    });
    // Past the lock a call left in progress would have had: still the stored failure, no second run.
    await sleep(3200);
    const again = await invoke(sessionId, 'deep', 0);
    expect(again.body).toMatchObject({
      status: 'failed',
      replayed: true,
      error: { reason: 'result_not_storable' },
    });
    expect(tools.effects.get(keys.toolCall(tenant.name, sessionId, 0, 'deep').pk)).toBe(1);
    const events = await toolEvents(sessionId);
    expect(events.map((e) => [e.data.tool, e.data.outcome, e.data.error])).toEqual([
      ['deep', 'failed', 'result_not_storable'],
    ]);
  });

  it('treats a record past its TTL (not yet deleted) as absent: a fresh call, not a takeover', async () => {
    const sessionId = await newSession();
    const key = keys.toolCall(tenant.name, sessionId, 7, 'count').pk;
    // A record from long ago that DynamoDB's TTL has not deleted yet.
    await new ToolCallStore().claim(key, {
      argsHash: argumentsHash({}),
      toolName: 'count',
      stepIndex: 7,
      policyVersion: 1,
      lockMs: 1,
      ttlSeconds: -60,
    });
    const res = await invoke(sessionId, 'count', 7);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'completed', replayed: false, attempts: 1 });
    expect(tools.effects.get(key)).toBe(1);
  });
});
