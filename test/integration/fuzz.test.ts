import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { cacheGetSchema, cachePutSchema } from '../../lambdas/domain/cache';
import { contextRequestSchema } from '../../lambdas/domain/context';
import { deletionIdOf } from '../../lambdas/domain/deletion';
import {
  factHistoryQuerySchema,
  factInputSchema,
  lineageIdOf,
  versionIdOf,
} from '../../lambdas/domain/fact-upsert';
import { idSchema } from '../../lambdas/domain/ids';
import { toolSchema } from '../../lambdas/domain/policy';
import { profilePutSchema } from '../../lambdas/domain/profile';
import * as cache from '../../lambdas/handlers/cache';
import * as context from '../../lambdas/handlers/context';
import * as deletions from '../../lambdas/handlers/deletions';
import * as facts from '../../lambdas/handlers/facts';
import * as health from '../../lambdas/handlers/health';
import * as openapi from '../../lambdas/handlers/openapi';
import * as profiles from '../../lambdas/handlers/profiles';
import * as sessions from '../../lambdas/handlers/sessions';
import * as tools from '../../lambdas/handlers/tools';
import * as requests from '../../lambdas/http/requests';
import { routes } from '../../lambdas/routes';
import { FactStore } from '../../lambdas/stores/fact-store';
import { PolicyStore } from '../../lambdas/stores/policy-store';
import { lambdaContext, match } from '../../local/server';
import { uniqueId } from '../support/ids';
import { httpEvent } from '../support/lambda-events';

/**
 * Issue 10: requests generated from the request schemas (valid-ish, mutated, hostile), at least
 * 1,000 per route, in-process against the emulator: none may answer 5xx. Reproduce a failure with
 * FUZZ_SEED=<the printed seed>.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_125);
/** Requests per run, sent concurrently; runs per route: BATCH * RUNS >= 1,000 (a few paths match no route). */
const BATCH = 8;
const RUNS = 130;

const tenantId = uniqueId('fuzz');
const policyRoute = uniqueId('fuzz').toLowerCase();
const sessionPool = ['fz-1', 'fz-2', 'fz-3'];
/** versions 1-3 of a tenant-wide fact (seeded), so history requests reach a real chain */
const factPool = [1, 2, 3].map((v) => versionIdOf(lineageIdOf({ key: 'k-1', text: '' }), v));

// --- arbitraries from a zod schema, through its JSON Schema (so a new field is fuzzed as it lands) ---

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
};

/** Strings that break things: lone surrogates, controls, combining marks, RTL, emoji, escapes. */
const weirdString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.string({ unit: 'grapheme', maxLength: 24 }),
  fc.constantFrom('\ud800', 'a\udc00b', '\u0000', '\u202e', 'e\u0301', '👩‍👩‍👧', '%zz', '../', '#', ' ', ''),
);

/** Values near the edges of a numeric range, and inside it. */
function numberIn(s: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const lo = Math.max(s.minimum ?? s.exclusiveMinimum ?? -1e9, -Number.MAX_SAFE_INTEGER);
  const hi = Math.min(s.maximum ?? s.exclusiveMaximum ?? 1e9, Number.MAX_SAFE_INTEGER);
  const edges = fc.constantFrom(lo, hi, Math.min(lo + 1, hi), Math.max(hi - 1, lo), 0, 1, 2);
  const inner = integer
    ? fc.integer({ min: Math.max(lo, -(2 ** 31)), max: Math.min(hi, 2 ** 31 - 1) })
    : fc.double({ min: lo, max: hi, noNaN: true });
  return fc.oneof(edges, inner).filter((n) => n >= lo && n <= hi);
}

function fromSchema(s: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...s.enum);
  const union = s.anyOf ?? s.oneOf;
  if (union) return fc.oneof(...union.map((u) => fromSchema(u, depth)));
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'string': {
      const maxLength = Math.min(s.maxLength ?? 48, 48);
      const minLength = Math.min(s.minLength ?? 0, maxLength);
      if (s.format === 'date-time') {
        const date = fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true });
        return fc.oneof(
          date.map((d) => d.toISOString()),
          fc.string({ maxLength: 30 }),
        );
      }
      if (s.pattern) {
        return fc
          .stringMatching(new RegExp(s.pattern))
          .filter((x) => x.length >= minLength && x.length <= (s.maxLength ?? Number.POSITIVE_INFINITY));
      }
      return fc.string({ unit: 'grapheme', minLength, maxLength });
    }
    case 'integer':
      return numberIn(s, true);
    case 'number':
      return numberIn(s, false);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(s.items ? fromSchema(s.items, depth + 1) : fc.jsonValue({ maxDepth: 2 }), {
        minLength: s.minItems ?? 0,
        maxLength: Math.min(s.maxItems ?? 4, 4),
      });
    case 'object': {
      const props = s.properties ?? {};
      const required = new Set(s.required ?? []);
      const known = fc.record(
        Object.fromEntries(Object.entries(props).map(([k, v]) => [k, fromSchema(v, depth + 1)])),
        { requiredKeys: Object.keys(props).filter((k) => required.has(k)) },
      );
      const extra = s.additionalProperties;
      if (extra === false || extra === undefined || Object.keys(props).length) return known;
      const names = s.propertyNames ? (fromSchema(s.propertyNames) as fc.Arbitrary<string>) : fc.string();
      const values = extra === true ? fc.jsonValue({ maxDepth: 3 }) : fromSchema(extra, depth + 1);
      return fc.dictionary(names, values, { maxKeys: 5 });
    }
    default:
      return fc.jsonValue({ maxDepth: 3 });
  }
}

const arbitraryOf = (schema: z.ZodType) =>
  fromSchema(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema);

/** A valid-ish object with one field broken: a wrong type, a weird string, a deep value, or an extra key. */
function mutated(valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc
    .tuple(valid, fc.nat(), fc.oneof(fc.jsonValue({ maxDepth: 2 }), weirdString, fc.constant(undefined)))
    .map(([v, i, replacement]) => {
      if (!v || typeof v !== 'object' || Array.isArray(v)) return replacement;
      const keys = Object.keys(v);
      const key = keys.length && i % 4 ? keys[i % keys.length]! : `extra${i % 3}`;
      return { ...(v as Record<string, unknown>), [key]: replacement };
    });
}

const nested = (levels: number) => `${'{"a":['.repeat(levels)}1${']}'.repeat(levels)}`;

/** Raw body text: valid-ish, mutated, any JSON, hostile text, deep nesting, lone-surrogate escapes. */
function bodyOf(valid: fc.Arbitrary<unknown>): fc.Arbitrary<{ text?: string; base64?: boolean }> {
  const json = (a: fc.Arbitrary<unknown>) => a.map((v) => ({ text: JSON.stringify(v) }));
  return fc.oneof(
    { weight: 5, arbitrary: json(valid) },
    { weight: 4, arbitrary: json(mutated(valid)) },
    { weight: 1, arbitrary: json(fc.jsonValue({ maxDepth: 3 })) },
    { weight: 1, arbitrary: weirdString.map((text) => ({ text })) },
    { weight: 1, arbitrary: fc.integer({ min: 30, max: 3000 }).map((n) => ({ text: nested(n) })) },
    { weight: 1, arbitrary: json(valid).map(({ text }) => ({ text: text.replace(/":"/, '":"\\ud800') })) },
    {
      weight: 1,
      arbitrary: fc
        .uint8Array({ maxLength: 64 })
        .map((b) => ({ text: Buffer.from(b).toString('base64'), base64: true })),
    },
    { weight: 1, arbitrary: fc.constant({}) },
  );
}

/** A path segment as a client may send it: valid, percent-encoded anything, malformed escapes. */
function segmentOf(valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 12, arbitrary: valid.map(encodeURIComponent) },
    {
      weight: 2,
      arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).map(encodeURIComponent),
    },
    { weight: 1, arbitrary: fc.stringMatching(/^[%A-Za-z0-9.~-]{1,12}$/) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('a%zz', '%', '%ED%A0%80', '%C0%AF', '%00', '%23', 'x'.repeat(300)),
    },
  );
}

/** Query values: from the schema (stringified), or anything. */
function queryOf(schema?: z.ZodType): fc.Arbitrary<Record<string, string> | undefined> {
  const anyQuery = fc.dictionary(fc.string({ maxLength: 8 }), weirdString, { maxKeys: 3 });
  if (!schema) return fc.option(anyQuery, { nil: undefined });
  const fromSchemaQuery = arbitraryOf(schema).map((v) =>
    Object.fromEntries(
      Object.entries((v ?? {}) as Record<string, unknown>).map(([k, x]) => [
        k,
        typeof x === 'string' ? x : JSON.stringify(x),
      ]),
    ),
  );
  return fc.oneof(
    { weight: 4, arbitrary: fromSchemaQuery },
    { weight: 2, arbitrary: fc.tuple(fromSchemaQuery, anyQuery).map(([a, b]) => ({ ...a, ...b })) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

// --- the routes: which schemas shape each one's requests ---

interface Fuzzed {
  handler: (event: never, context: never) => Promise<unknown>;
  /** generators of path parameters' valid values, by name */
  params?: Record<string, fc.Arbitrary<string>>;
  body?: fc.Arbitrary<unknown>;
  query?: z.ZodType;
  headers?: fc.Arbitrary<Record<string, string>>;
  /** concurrent requests per run (default BATCH): health makes ten store calls per request */
  batch?: number;
  /** the route's whole run (default 60 s) */
  timeoutMs?: number;
}

const sessionId = fc.oneof(fc.constantFrom(...sessionPool), arbitraryOf(idSchema) as fc.Arbitrary<string>);
const userId = fc.oneof(fc.constantFrom('u-1', 'u-2'), arbitraryOf(idSchema) as fc.Arbitrary<string>);
const toolName = fc.oneof(
  fc.constantFrom('echo', 'missing'),
  arbitraryOf(toolSchema.shape.name) as fc.Arbitrary<string>,
);
/** Biases a generated object's fields toward values that reach the stores (known routes, sessions). */
const biased = (a: fc.Arbitrary<unknown>, fields: Record<string, fc.Arbitrary<unknown>>) =>
  fc
    .tuple(a, fc.record(fields), fc.nat(3))
    .map(([v, over, use]) => (use && v && typeof v === 'object' ? { ...v, ...over } : v));
const policyRouteArb = fc.constantFrom('default', policyRoute);
const factId = fc.oneof(fc.constantFrom(...factPool), arbitraryOf(idSchema) as fc.Arbitrary<string>);

const fuzzed: Record<string, Fuzzed> = {
  // Ten store calls a request: 10 at a time keeps a hundred in flight, within the probes' 2 s on a
  // loaded emulator (20 gave LocalStack 3 late probes, 503s, in CI), and its thousand requests take
  // 45-60 s on 2 cores, so the route has more than the default minute.
  'GET /v1/health': { handler: health.handler, batch: 10, timeoutMs: 180_000 },
  'GET /v1/openapi.json': { handler: openapi.handler, batch: 20 },
  'POST /v1/sessions/{sessionId}/turns': {
    handler: sessions.handler,
    params: { sessionId },
    body: biased(arbitraryOf(requests.appendBody), { route: policyRouteArb, expectedVersion: fc.nat(3) }),
    headers: fc.oneof(
      fc.constant({}),
      fc.constantFrom('k-1', 'k-2').map((k) => ({ 'idempotency-key': k })),
      weirdString.map((k) => ({ 'idempotency-key': k })),
    ),
  },
  'GET /v1/sessions/{sessionId}': { handler: sessions.handler, params: { sessionId } },
  'GET /v1/sessions/{sessionId}/events': {
    handler: sessions.handler,
    params: { sessionId },
    query: requests.eventsQuery,
  },
  'POST /v1/sessions/{sessionId}/context': {
    handler: context.handler,
    params: { sessionId },
    body: biased(arbitraryOf(contextRequestSchema), { route: policyRouteArb }),
  },
  'POST /v1/sessions/{sessionId}/tools/{toolName}/invocations': {
    handler: tools.handler,
    params: { sessionId, toolName },
    body: biased(arbitraryOf(requests.invokeBody), {
      route: fc.constant(policyRoute),
      arguments: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
    }),
    headers: fc.option(
      weirdString.map((p) => ({ prefer: p })),
      { nil: {} },
    ) as fc.Arbitrary<Record<string, string>>,
  },
  'POST /v1/facts': {
    handler: facts.handler,
    body: biased(arbitraryOf(factInputSchema), { key: fc.constantFrom('k-1', 'k-2') }),
  },
  'GET /v1/facts': { handler: facts.handler, query: requests.searchQuery },
  'GET /v1/facts/{factId}/history': {
    handler: facts.handler,
    params: { factId },
    query: factHistoryQuerySchema,
  },
  'PUT /v1/users/{userId}/profile': {
    handler: profiles.handler,
    params: { userId },
    body: biased(arbitraryOf(profilePutSchema), { expectedVersion: fc.nat(2) }),
  },
  'GET /v1/users/{userId}/profile': { handler: profiles.handler, params: { userId } },
  'PUT /v1/cache': {
    handler: cache.handler,
    body: biased(arbitraryOf(cachePutSchema), { sessionId: fc.constantFrom(...sessionPool) }),
  },
  'GET /v1/cache': { handler: cache.handler, query: cacheGetSchema },
  // Last, so the deletions they start (of the pools' sessions, users and facts) disturb no other route.
  'DELETE /v1/sessions/{sessionId}': { handler: deletions.handler, params: { sessionId } },
  'DELETE /v1/users/{userId}': { handler: deletions.handler, params: { userId } },
  'DELETE /v1/facts/{factId}': { handler: deletions.handler, params: { factId } },
  'GET /v1/deletions/{id}': {
    handler: deletions.handler,
    params: {
      id: fc.oneof(
        fc.constantFrom(...sessionPool.map((s) => deletionIdOf(tenantId, 'session', s))),
        arbitraryOf(deletions.deletionPathSchemas.deletion.shape.id) as fc.Arbitrary<string>,
      ),
    },
  },
};

/** One request: path through the local gateway's matcher (its decoding), then the handler in-process. */
function requestOf(routeKey: string, f: Fuzzed) {
  const [method, template] = routeKey.split(' ') as [string, string];
  const names = Object.keys(f.params ?? {});
  return fc
    .record({
      segments: fc.tuple(...names.map((n) => segmentOf(f.params![n]!))),
      query: queryOf(f.query),
      body: f.body ? bodyOf(f.body) : fc.option(bodyOf(fc.jsonValue({ maxDepth: 2 })), { nil: {} }),
      headers: f.headers ?? fc.constant({}),
    })
    .map(({ segments, query, body, headers }) => {
      let path = template;
      names.forEach((n, i) => {
        path = path.replace(`{${n}}`, segments[i]!);
      });
      return { method, path, query, body, headers };
    });
}

type Request = {
  method: string;
  path: string;
  query?: Record<string, string>;
  body: { text?: string; base64?: boolean };
  headers: Record<string, string>;
};

async function send(routeKey: string, f: Fuzzed, r: Request): Promise<number | null> {
  const found = match(r.method, r.path);
  // No route for this path (a segment decoded to nothing usable): API Gateway's own 404, not ours.
  if (!found || `${found.route.method} ${found.route.path}` !== routeKey) return null;
  const event = httpEvent({
    routeKey,
    tenantId,
    params: Object.keys(found.params).length ? found.params : undefined,
    query: r.query,
    headers: r.headers,
    body: r.body.text,
    isBase64Encoded: r.body.base64,
  });
  const res = (await f.handler(event as never, lambdaContext('fuzz') as never)) as { statusCode?: number };
  return res.statusCode ?? 200;
}

let toolServer: http.Server;

beforeAll(async () => {
  // The fuzz route's one tool answers 200 with what it got, so its calls run the whole exactly-once path.
  toolServer = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'));
  });
  await new Promise<void>((r) => toolServer.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(toolServer.address() as AddressInfo).port}/echo`;
  await new PolicyStore().publish(policyRoute, {
    systemPrompt: 'You are fuzzed.',
    tools: [{ name: 'echo', kind: 'http', url, timeoutMs: 2000, inputSchema: { type: 'object' } }],
  });
});
beforeAll(async () => {
  for (const text of ['Fuzz fact one', 'Fuzz fact two', 'Fuzz fact three'])
    await new FactStore().upsert(tenantId, { key: 'k-1', text });
});
afterAll(() => new Promise<void>((r) => toolServer?.close(() => r())));

describe('fuzz: no request answers 5xx', () => {
  it('covers every route of lambdas/routes.ts', () => {
    expect(Object.keys(fuzzed).sort()).toEqual(routes.map((r) => `${r.method} ${r.path}`).sort());
  });

  /** per route: requests answered, by status */
  const counts: Record<string, Record<number, number>> = {};
  const total = (byStatus: Record<number, number>) => Object.values(byStatus).reduce((a, b) => a + b, 0);
  afterAll(() => {
    console.log(`[fuzz] seed ${SEED}; requests per route (by status):`);
    for (const [k, v] of Object.entries(counts))
      console.log(`[fuzz]   ${k}: ${total(v)} ${JSON.stringify(v)}`);
  });

  for (const [routeKey, f] of Object.entries(fuzzed)) {
    it(
      routeKey,
      async () => {
        const byStatus: Record<number, number> = {};
        counts[routeKey] = byStatus;
        const batchSize = f.batch ?? BATCH;
        const failures: { status: number; request: Request }[] = [];
        const property = fc.asyncProperty(
          fc.array(requestOf(routeKey, f), { minLength: batchSize, maxLength: batchSize }),
          async (batch) => {
            const statuses = await Promise.all(batch.map((r) => send(routeKey, f, r as Request)));
            statuses.forEach((s, i) => {
              if (s === null) return;
              byStatus[s] = (byStatus[s] ?? 0) + 1;
              if (s >= 500) failures.push({ status: s, request: batch[i] as Request });
            });
            return statuses.every((s) => s === null || s < 500);
          },
        );
        const numRuns = Math.ceil((RUNS * BATCH) / batchSize);
        const out = await fc.check(property, { numRuns, seed: SEED, endOnFailure: true });
        if (out.failed) {
          const first = failures[0];
          throw new Error(
            `${routeKey}: ${failures.length} 5xx answers (FUZZ_SEED=${SEED} reproduces). First: ${first?.status} for ` +
              `${JSON.stringify(first?.request).slice(0, 2000)}${out.errorInstance ? `\n${String(out.errorInstance)}` : ''}`,
          );
        }
        expect(total(byStatus)).toBeGreaterThanOrEqual(1000);
      },
      f.timeoutMs ?? 60_000,
    );
  }
});
