import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicyStore } from '../../lambdas/stores/policy-store';
import { generateClientTypes, TYPES_FILE } from '../../local/generate-clients';
import { uniqueId } from '../support/ids';
import { type Started, startProcess } from '../support/start-process';

/**
 * The TypeScript client (clients/typescript) as a user gets it: its committed types are what the
 * document generates today, it builds with the DOM library and no Node types (so it runs in browsers
 * too), `npm pack` ships the build, and the built module talks to `npm start`.
 */
type Client = typeof import('../../clients/typescript/src/index');
const PKG = path.join(__dirname, '..', '..', 'clients', 'typescript');
const tenant = { name: uniqueId('tsc'), key: `key-${uniqueId('k')}` };
const route = uniqueId('tsc').toLowerCase();
let server: Started;
let lib: Client;
let cp: InstanceType<Client['ContextPlane']>;
let tool: { url: string; runs: Map<string, number>; close: () => Promise<void> };

/** A tool that takes 1.5 s and counts its runs per Idempotency-Key. */
async function startTool() {
  const runs = new Map<string, number>();
  const s = http.createServer(async (req, res) => {
    for await (const _ of req);
    const key = String(req.headers['idempotency-key']);
    runs.set(key, (runs.get(key) ?? 0) + 1);
    await new Promise((r) => setTimeout(r, 1500));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ booked: true, key }));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    runs,
    close: () => new Promise<void>((r) => s.close(() => r())),
  };
}

beforeAll(async () => {
  const build = spawnSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', path.join(PKG, 'tsconfig.json')],
    {
      encoding: 'utf8',
    },
  );
  expect(build.status, build.stdout + build.stderr).toBe(0);
  lib = (await import(path.join(PKG, 'dist', 'index.js'))) as Client;
  tool = await startTool();
  await new PolicyStore().publish(route, {
    systemPrompt: 'You are a travel agent.',
    tools: [
      {
        name: 'book',
        description: 'Book a hotel',
        kind: 'http',
        url: tool.url,
        timeoutMs: 5000,
        inputSchema: { type: 'object', required: ['city'], properties: { city: { type: 'string' } } },
      },
    ],
  });
  server = await startProcess({ CONTEXT_PLANE_TENANTS: `${tenant.name}:${tenant.key}` });
  cp = new lib.ContextPlane({ baseUrl: server.url, apiKey: tenant.key });
}, 120_000);

afterAll(async () => {
  await tool?.close();
  if (server) expect(await server.stop()).toBe(0);
});

describe('the package', () => {
  it('has the types the document generates now (run `npm run clients:generate` after changing a schema)', async () => {
    expect(fs.readFileSync(TYPES_FILE, 'utf8')).toBe(await generateClientTypes());
  });

  it('packs its build: ESM, types, no AWS SDK', () => {
    const packed = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: PKG,
      encoding: 'utf8',
    });
    expect(packed.status, packed.stderr).toBe(0);
    const [info] = JSON.parse(packed.stdout) as [{ files: { path: string }[] }];
    const files = info.files.map((f) => f.path);
    expect(files).toEqual(
      expect.arrayContaining(['package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/schema.d.ts']),
    );
    expect(files.filter((f) => f.startsWith('src/'))).toEqual([]);
    const manifest = JSON.parse(fs.readFileSync(path.join(PKG, 'package.json'), 'utf8'));
    expect(manifest.type).toBe('module');
    expect(Object.keys(manifest.dependencies)).toEqual(['openapi-fetch']);
    // The same openapi-fetch the repository's tests run it with.
    const root = JSON.parse(fs.readFileSync(path.join(PKG, '..', '..', 'package.json'), 'utf8'));
    expect(manifest.dependencies['openapi-fetch']).toBe(root.devDependencies['openapi-fetch']);
  });
});

describe('against npm start', () => {
  it('appends with an Idempotency-Key: a repeat is answered from the receipt, not appended twice', async () => {
    const sid = uniqueId('s');
    const turns = [{ role: 'user' as const, content: 'My order #123 never arrived.', ref: 'm1' }];
    const first = await cp.appendTurns(sid, { expectedVersion: 0, turns }, { idempotencyKey: `k-${sid}` });
    expect(first).toMatchObject({ version: 1, lastSeq: 1, replayed: false, conflicts: 0 });
    const again = await cp.appendTurns(sid, { expectedVersion: 0, turns }, { idempotencyKey: `k-${sid}` });
    expect(again).toMatchObject({ version: 1, lastSeq: 1, replayed: true });
    const session = await cp.getSession(sid);
    expect(session.recentTurns.map((t) => t.content)).toEqual([turns[0]!.content]);
  });

  it('rehydrates on 409 and appends at the new version; onConflict may change the turns or give up', async () => {
    const sid = uniqueId('s');
    await cp.appendTurns(sid, { expectedVersion: 0, turns: [{ role: 'user', content: 'one' }] });
    // Two writers built on version 1: one wins, the other reads version 2 and lands after it.
    const [a, b] = await Promise.all([
      cp.appendTurns(sid, { expectedVersion: 1, turns: [{ role: 'assistant', content: 'two' }] }),
      cp.appendTurns(sid, { expectedVersion: 1, turns: [{ role: 'user', content: 'three' }] }),
    ]);
    expect([a.version, b.version].sort()).toEqual([2, 3]);
    expect(a.conflicts + b.conflicts).toBe(1);
    const seen: number[] = [];
    const c = await cp.appendTurns(
      sid,
      { expectedVersion: 1, turns: [{ role: 'user', content: 'stale' }] },
      {
        onConflict: (session) => {
          seen.push(session!.version);
          return [{ role: 'user', content: `rebased on ${session!.version}` }];
        },
      },
    );
    expect(seen).toEqual([3]);
    expect(c).toMatchObject({ version: 4, conflicts: 1, idempotencyKey: expect.stringMatching(/\.v3$/) });
    const events = [];
    for await (const e of cp.events(sid, 0, 2)) events.push(e);
    expect(events.map((e) => (e.data.turn as { content: string }).content)).toEqual(
      expect.arrayContaining(['one', 'two', 'three', 'rebased on 3']),
    );
    expect(events).toHaveLength(4);

    const refused = await cp
      .appendTurns(
        sid,
        { expectedVersion: 1, turns: [{ role: 'user', content: 'x' }] },
        { onConflict: () => null },
      )
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(lib.VersionConflictError);
    expect(refused).toMatchObject({ status: 409, code: 'version_conflict', currentVersion: 4 });
  });

  it('builds a context and uses the output cache', async () => {
    const sid = uniqueId('s');
    await cp.appendTurns(sid, {
      expectedVersion: 0,
      turns: [
        { role: 'user', content: 'My parcel 7 is late.' },
        { role: 'assistant', content: 'Checking parcel 7.' },
      ],
    });
    await cp.upsertFact({ text: 'Parcel 7 was handed to the courier on Friday.' });
    const ctx = await cp.buildContext(sid, { route: 'default', input: 'Where is parcel 7?' });
    expect(ctx.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(ctx.sections.map((s) => s.source)).toContain('history');
    expect(await cp.getCache({ question: 'Where is parcel 7?', fingerprint: ctx.fingerprint })).toEqual({
      hit: false,
    });
    await cp.putCache({
      question: 'Where is parcel 7?',
      fingerprint: ctx.fingerprint,
      answer: 'With the courier.',
      sessionId: sid,
      sessionStamp: ctx.sessionStamp!,
    });
    expect(await cp.getCache({ question: 'where is parcel 7', fingerprint: ctx.fingerprint })).toMatchObject({
      hit: true,
      answer: 'With the courier.',
    });
    const profile = await cp.putProfile('u-tsc', { expectedVersion: 0, attributes: { plan: 'pro' } });
    expect((await cp.getProfile('u-tsc')).version).toBe(profile.version);
    expect((await cp.searchFacts({ query: 'parcel courier' })).facts[0]?.text).toContain('courier');
  });

  it('waits for a tool call in progress elsewhere (Prefer: wait, then Retry-After) and gets the stored answer', async () => {
    const sid = uniqueId('s');
    await cp.appendTurns(sid, { expectedVersion: 0, turns: [{ role: 'user', content: 'book Oslo' }] });
    const body = { stepIndex: 1, arguments: { city: 'Oslo' }, route };
    const first = cp.invokeTool(sid, 'book', body);
    await new Promise((r) => setTimeout(r, 300));
    // One waits on the server (Prefer: wait=10), one without it: 409 in_progress, Retry-After, again.
    const [a, waited, polled] = await Promise.all([
      first,
      cp.invokeTool(sid, 'book', body),
      cp.invokeTool(sid, 'book', body, { waitSeconds: 0 }),
    ]);
    expect(a).toMatchObject({ status: 'completed', replayed: false, result: { booked: true } });
    expect(waited).toMatchObject({ status: 'completed', replayed: true, result: a.result });
    expect(polled).toMatchObject({ status: 'completed', replayed: true, result: a.result });
    expect(tool.runs.get(a.idempotencyKey)).toBe(1);

    const busy = cp.invokeTool(sid, 'book', { ...body, stepIndex: 2 });
    await new Promise((r) => setTimeout(r, 300));
    const gaveUp = await cp
      .invokeTool(sid, 'book', { ...body, stepIndex: 2 }, { waitSeconds: 0, timeoutMs: 100 })
      .catch((e: unknown) => e);
    expect(gaveUp).toBeInstanceOf(lib.InProgressError);
    expect(gaveUp).toMatchObject({ status: 409, code: 'in_progress', retryAfterSeconds: expect.any(Number) });
    await busy;
  });

  it("reads a fact's history and deletes a session", async () => {
    const first = await cp.upsertFact({ userId: 'u-hist', key: 'city', text: 'Lives in Lisbon.' });
    const second = await cp.upsertFact({ userId: 'u-hist', key: 'city', text: 'Lives in Denver.' });
    const history = await cp.factHistory(second.fact.id);
    expect(history.facts.map((f) => f.text)).toEqual(['Lives in Denver.', 'Lives in Lisbon.']);
    expect(history.facts[1]).toMatchObject({ id: first.fact.id, supersededBy: second.fact.id });

    const sid = uniqueId('s');
    await cp.appendTurns(sid, { expectedVersion: 0, turns: [{ role: 'user', content: 'forget me' }] });
    const accepted = await cp.deleteSession(sid);
    expect(accepted).toMatchObject({ kind: 'session', status: expect.any(String) });
    expect((await cp.deleteSession(sid)).id).toBe(accepted.id);
    const status = await cp.waitForDeletion(accepted.id, { until: 'sweeping', timeoutMs: 30_000 });
    expect(['sweeping', 'done']).toContain(status.status);
    expect(await cp.getSession(sid).catch((e: unknown) => e)).toBeInstanceOf(lib.NotFoundError);
  });

  it("runs the README's quick start as written", async () => {
    const readme = fs.readFileSync(path.join(PKG, '..', '..', 'README.md'), 'utf8');
    const snippet = /From your app[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(snippet).toContain("import { ContextPlane } from '@context-plane/client';");
    const sid = uniqueId('readme');
    const code = snippet!
      .replace("import { ContextPlane } from '@context-plane/client';", 'const { ContextPlane } = lib;')
      .replace("'http://127.0.0.1:3000'", JSON.stringify(server.url))
      .replace("'cp_local_demo_key'", JSON.stringify(tenant.key))
      .replaceAll("'chat-42'", JSON.stringify(sid));
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
      ...args: string[]
    ) => (l: Client) => Promise<void>;
    await new AsyncFunction('lib', code)(lib);
    const session = await cp.getSession(sid);
    expect(session.recentTurns.map((t) => t.role)).toEqual(['user', 'assistant']);
  });

  it('throws typed errors carrying code and details', async () => {
    const missing = await cp.getSession('nope-none').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(lib.NotFoundError);
    expect(missing).toMatchObject({ status: 404, code: 'not_found', details: { session: 'nope-none' } });
    expect((missing as Error).message).toContain('nope-none');

    const invalid = await cp
      .appendTurns('s-x', { expectedVersion: 0, turns: [{ role: 'robot' as 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(lib.ValidationError);
    expect((invalid as InstanceType<Client['ValidationError']>).fields.map((f) => f.path)).toEqual([
      'turns.0.role',
    ]);
    expect((invalid as InstanceType<Client['ValidationError']>).correlationId).toBeTruthy();

    const sid = uniqueId('s');
    await cp.appendTurns(
      sid,
      { expectedVersion: 0, turns: [{ role: 'user', content: 'a' }] },
      { idempotencyKey: 'k1' },
    );
    const reused = await cp
      .appendTurns(
        sid,
        { expectedVersion: 0, turns: [{ role: 'user', content: 'b' }] },
        { idempotencyKey: 'k1' },
      )
      .catch((e: unknown) => e);
    expect(reused).toBeInstanceOf(lib.IdempotencyKeyReusedError);
    expect(reused).toMatchObject({
      status: 422,
      code: 'idempotency_key_reused',
      details: { idempotencyKey: 'k1' },
    });

    const forbidden = await new lib.ContextPlane({ baseUrl: server.url, apiKey: 'not-a-key' })
      .getSession('s')
      .catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(lib.AuthError);
    expect(forbidden).toMatchObject({ status: 403, code: 'forbidden' });
    const anonymous = await new lib.ContextPlane({ baseUrl: server.url })
      .getSession('s')
      .catch((e: unknown) => e);
    expect(anonymous).toMatchObject({ status: 401, code: 'unauthorized' });

    expect(await new lib.ContextPlane({ baseUrl: `${server.url}/` }).health()).toMatchObject({
      status: 'ok',
    });
    expect((await cp.openApi()).openapi).toBe('3.1.0');
  });
});
