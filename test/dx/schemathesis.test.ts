import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installDxTools } from '../../local/emulator';
import { uniqueId } from '../support/ids';
import { type Started, startProcess } from '../support/start-process';

/**
 * Schema fuzzing with schemathesis (pinned in local/emulator.ts DX_TOOLS) against the served document and
 * `npm start`: requests generated from the document (its examples, boundary values of every schema, then
 * random ones), a bounded number per operation, with the tenant's key. Fails on any 5xx and on any
 * answer whose status, content type, headers or body the document does not describe, or that an
 * unauthenticated request would also get (`ignored_auth`).
 *
 * Checks left out, and why:
 * - unsupported_method: a method no route has (TRACE /v1/facts) is 404 {"message":"Not Found"}, as API
 *   Gateway answers it, not 405;
 * - positive_data_acceptance: the document cannot say everything the validators check (a question must
 *   have words, fact text must not be blank, a profile number is 0 or at least 1e-100 in magnitude: zod
 *   refinements JSON Schema has no word for), so some schema-valid requests are rightly 400s;
 * - negative_data_rejection: a query string past Node's 16 KiB header limit is refused with 431 before a
 *   handler sees it, and repeated query parameters are not the arrays the document's types forbid
 *   (the gateway passes one value on).
 * Reproduce a run with SCHEMATHESIS_SEED=<seed printed below>, or schemathesis's own `st replay <id>`.
 */
const SEED = process.env.SCHEMATHESIS_SEED ?? '20261125';
/** Examples per operation and phase: 13 operations, ~1,200 requests, about 20 s on 2 cores. */
const MAX_EXAMPLES = process.env.SCHEMATHESIS_MAX_EXAMPLES ?? '40';

const tenant = { name: uniqueId('st'), key: `key-${uniqueId('k')}` };
let server: Started;
let bin: string;

beforeAll(async () => {
  bin = installDxTools((m) => console.log(`[dx] ${m}`));
  server = await startProcess({ CONTEXT_PLANE_TENANTS: `${tenant.name}:${tenant.key}` });
}, 600_000);

afterAll(async () => {
  if (server) expect(await server.stop()).toBe(0);
});

describe('schemathesis against the document and npm start', () => {
  it('finds no 5xx and no answer the document does not describe', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cp-st-'));
    const junit = path.join(dir, 'junit.xml');
    const started = Date.now();
    const run = spawnSync(
      path.join(bin, 'schemathesis'),
      [
        'run',
        `${server.url}/v1/openapi.json`,
        '--url',
        server.url,
        '--header',
        `Authorization: Bearer ${tenant.key}`,
        '--checks',
        'all',
        '--exclude-checks',
        'unsupported_method,positive_data_acceptance,negative_data_rejection',
        '--phases',
        'examples,coverage,fuzzing',
        '--max-examples',
        MAX_EXAMPLES,
        '--seed',
        SEED,
        // One worker: hypothesis's source inspection is not thread-safe on Python 3.11 (a spurious
        // "AST constructor recursion depth mismatch"), and the machine has two cores anyway.
        '--workers',
        '1',
        '--request-timeout',
        '20',
        '--no-color',
        '--output-truncate',
        'true',
        '--report',
        'junit',
        '--report-junit-path',
        junit,
      ],
      { encoding: 'utf8', cwd: dir, timeout: 240_000, maxBuffer: 64 * 1024 * 1024 },
    );
    const output = `${run.stdout}\n${run.stderr}`;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`schemathesis: ${seconds} s, seed ${SEED}, ${MAX_EXAMPLES} examples per operation`);
    console.log(output.split('\n').slice(-14).join('\n'));
    expect(run.error, output).toBeUndefined();
    expect(run.status, output.slice(-20_000)).toBe(0);
    // It really tested every operation of the document (but the document's own URL, which schemathesis
    // leaves out): one JUnit test case each, none failed or in error.
    const doc = (await (await fetch(`${server.url}/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const operations = Object.entries(doc.paths)
      .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`))
      .filter((op) => op !== 'GET /v1/openapi.json');
    const report = fs.readFileSync(junit, 'utf8');
    const cases = [...report.matchAll(/<testcase [^>]*name="([A-Z]+ [^"]+)"/g)].map((m) => m[1]);
    expect(new Set(cases)).toEqual(new Set(operations));
    expect(report).not.toMatch(/<(failure|error)\b/);
    expect(output).toMatch(/Test cases:\s*\n\s*\d+ generated/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
