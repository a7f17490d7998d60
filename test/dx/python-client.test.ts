import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicyStore } from '../../lambdas/stores/policy-store';
import { installDxTools } from '../../local/emulator';
import { uniqueId } from '../support/ids';
import { type Started, startProcess } from '../support/start-process';

/**
 * The Python client as a Python user makes it: generated from the served document by
 * openapi-python-client (pinned in local/emulator.ts DX_TOOLS) with clients/python/config.yaml, installed
 * into the project's virtualenv, then clients/python/example.py (the README's example) runs a session,
 * a context and a tool call against `npm start`.
 */
const ROOT = path.join(__dirname, '..', '..');
const tenant = { name: uniqueId('py'), key: `key-${uniqueId('k')}` };
const route = uniqueId('py').toLowerCase();
let server: Started;
let bin: string;
let tool: { url: string; calls: string[]; close: () => Promise<void> };
let dir: string;

beforeAll(async () => {
  bin = installDxTools((m) => console.log(`[dx] ${m}`));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cp-py-'));
  const calls: string[] = [];
  const s = http.createServer(async (req, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    calls.push(raw);
    const args = JSON.parse(raw) as { city: string; nights: number };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ booking: 'B-1', city: args.city, nights: args.nights }));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  tool = {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    calls,
    close: () => new Promise<void>((r) => s.close(() => r())),
  };
  await new PolicyStore().publish(route, {
    systemPrompt: 'You are a travel agent.',
    tools: [
      {
        name: 'book',
        description: 'Book a hotel',
        kind: 'http',
        url: tool.url,
        timeoutMs: 5000,
        inputSchema: {
          type: 'object',
          required: ['city'],
          properties: { city: { type: 'string' }, nights: { type: 'integer' } },
        },
      },
    ],
  });
  server = await startProcess({ CONTEXT_PLANE_TENANTS: `${tenant.name}:${tenant.key}` });
}, 600_000);

afterAll(async () => {
  await tool?.close();
  if (server) expect(await server.stop()).toBe(0);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Async: the tool server answers from this process's event loop while Python runs. */
async function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)(cmd, args, {
      cwd: dir,
      encoding: 'utf8',
      timeout: 120_000,
      // ruff (a dependency of the generator, in .venv/bin) formats the generated code
      env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}`, ...env },
    });
    return stdout;
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\n${e.stdout}\n${e.stderr}`);
  }
}

describe('the Python client generated from the document', () => {
  it('generates without a warning, installs, and runs a session + context + tool round trip', async () => {
    const spec = path.join(dir, 'openapi.json');
    fs.writeFileSync(spec, await (await fetch(`${server.url}/v1/openapi.json`)).text());
    const pkg = path.join(dir, 'context-plane-client');
    await run(path.join(bin, 'openapi-python-client'), [
      'generate',
      '--path',
      spec,
      '--meta',
      'setup',
      '--config',
      path.join(ROOT, 'clients', 'python', 'config.yaml'),
      '--output-path',
      pkg,
      '--fail-on-warning',
    ]);
    // Its dependencies (httpx, attrs) came with the generator: nothing to download.
    await run(path.join(bin, 'python'), [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      '--no-deps',
      '--no-build-isolation',
      pkg,
    ]);
    const out = await run(path.join(bin, 'python'), [path.join(ROOT, 'clients', 'python', 'example.py')], {
      CP_URL: server.url,
      CP_KEY: tenant.key,
      CP_ROUTE: route,
    });
    const result = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(result).toMatchObject({
      version: 1,
      conflict: { code: 'version_conflict', details: { expectedVersion: 0, currentVersion: 1 } },
      roles: ['system', 'user', 'assistant', 'user'],
      tool: {
        status: 'completed',
        replayed: false,
        toolName: 'book',
        stepIndex: 1,
        result: { booking: 'B-1', city: 'Oslo', nights: 2 },
      },
      sessionVersion: 1,
      lastSeq: 3,
    });
    expect(result.sections.history).toBeGreaterThan(0);
    expect(result.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(tool.calls.map((c) => JSON.parse(c))).toEqual([{ city: 'Oslo', nights: 2 }]);
    // The same session, read back over plain HTTP: the Python client's writes are the service's state.
    const events = (await (
      await fetch(`${server.url}/v1/sessions/${result.sessionId}/events`, {
        headers: { authorization: `Bearer ${tenant.key}` },
      })
    ).json()) as { events: { type: string }[] };
    expect(events.events.map((e) => e.type)).toEqual(['turn_appended', 'turn_appended', 'tool_invoked']);
  });
});
