import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { deletionAcceptedSchema, deletionStatusSchema } from '../../lambdas/domain/deletion';
import { operations } from '../../lambdas/http/openapi';
import * as res from '../../lambdas/http/responses';
import { routes } from '../../lambdas/routes';
import { uniqueId } from '../support/ids';
import { type Started, startProcess } from '../support/start-process';

/**
 * The OpenAPI document as `npm start` serves it: valid OpenAPI 3.1, every route of lambdas/routes.ts in
 * it, and real answers of the running service matching both the document and the zod response schemas.
 */
const tenant = { name: uniqueId('oas'), key: `key-${uniqueId('k')}` };
let server: Started;
type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown[] }>>;
  components: { schemas: Record<string, unknown> };
};
let doc: Doc;

beforeAll(async () => {
  server = await startProcess({ CONTEXT_PLANE_TENANTS: `${tenant.name}:${tenant.key}` });
  const answer = await fetch(`${server.url}/v1/openapi.json`);
  expect(answer.status).toBe(200);
  expect(answer.headers.get('content-type')).toContain('application/json');
  doc = (await answer.json()) as Doc;
}, 120_000);

afterAll(async () => {
  if (server) expect(await server.stop()).toBe(0);
});

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const answer = await fetch(`${server.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant.key}`, ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: answer.status, body: (await answer.json()) as unknown, headers: answer.headers };
}

/** Checks an answer against the served document's schema for its operation and status. */
function conforms(method: string, path: string, status: number, body: unknown, headers?: Headers) {
  const op = doc.paths[path]?.[method.toLowerCase()];
  expect(op, `${method} ${path} in the document`).toBeDefined();
  const response = op!.responses[String(status)] as
    | { content: { 'application/json': { schema: unknown } } }
    | undefined;
  expect(response, `${method} ${path} documents ${status}`).toBeDefined();
  for (const [name, h] of Object.entries(
    (response as { headers?: Record<string, { required?: boolean }> }).headers ?? {},
  ))
    if (h.required && headers)
      expect(headers.get(name), `${method} ${path} ${status}: header ${name}`).toBeTruthy();
  const { $ref } = response!.content['application/json'].schema as { $ref: string };
  const validate = validator().compile({ $ref: `doc${$ref}` });
  expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
}

let ajv: Ajv2020 | undefined;
/** One ajv holding the served document's components, so a response schema is `doc#/components/…`. */
function validator(): Ajv2020 {
  if (!ajv) {
    ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ $id: 'doc', components: doc.components });
  }
  return ajv;
}

const parses = (schema: z.ZodType, body: unknown) => {
  const parsed = schema.safeParse(body);
  expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
};

describe('GET /v1/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator), whose schemas all compile as JSON Schema 2020-12', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const oas = new Validator();
    const result = await oas.validate(structuredClone(doc) as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(oas.version).toBe('3.1');
    for (const name of Object.keys(doc.components.schemas))
      expect(() => validator().compile({ $ref: `doc#/components/schemas/${name}` }), name).not.toThrow();
  });

  it('has every route of lambdas/routes.ts, public ones without security, and nothing else', () => {
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    const routeKeys = routes.map((r) => `${r.method} ${r.path}`);
    expect(
      routeKeys.filter((k) => !documented.includes(k)),
      'routes missing from the spec',
    ).toEqual([]);
    expect(documented.sort()).toEqual([...routeKeys].sort());
    expect(Object.keys(operations).sort()).toEqual([...routeKeys].sort());
    for (const r of routes) {
      const op = doc.paths[r.path]![r.method.toLowerCase()]!;
      if (r.public) expect(op.security).toEqual([]);
      else expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['400', '401', '403', '503']));
    }
    // The handlers' answers promise the correlation id (checked on every answer below); API Gateway's do not.
    const session = doc.paths['/v1/sessions/{sessionId}']!.get!.responses as Record<
      string,
      { headers?: Record<string, { required?: boolean }> }
    >;
    expect(session['200']!.headers!['x-correlation-id']!.required).toBe(true);
    expect(session['404']!.headers!['x-correlation-id']!.required).toBe(true);
    expect(session['403']!.headers).toBeUndefined();
  });

  it('documents every error code of the README table', () => {
    const errorSchema = JSON.stringify(doc.components.schemas.Error);
    for (const code of [
      'validation_error',
      'unauthorized',
      'not_found',
      'version_conflict',
      'idempotency_key_reused',
      'payload_too_large',
      'internal_error',
      'store_unavailable',
      'policy_invalid',
      'in_progress',
      'tool_unavailable',
      'tool_timeout',
      'input_too_large',
      'budget_too_small',
      'session_moved',
      'session_user_mismatch',
    ])
      expect(errorSchema).toContain(`"${code}"`);
  });
});

describe('real answers match the document and the zod response schemas', () => {
  it('sessions, events, context, facts, profiles, cache and their errors', async () => {
    const sid = uniqueId('s');
    const base = `/v1/sessions/${sid}`;
    const check = async (
      method: string,
      template: string,
      path: string,
      schema: z.ZodType,
      expected: number,
      body?: unknown,
      headers?: Record<string, string>,
    ) => {
      const answer = await call(method, path, body, headers);
      expect(answer.status, JSON.stringify(answer.body)).toBe(expected);
      conforms(method, template, answer.status, answer.body, answer.headers);
      parses(schema, answer.body);
      return answer.body as Record<string, unknown>;
    };
    const turns = '/v1/sessions/{sessionId}/turns';
    await check('POST', turns, `${base}/turns`, res.appendAnswerSchema, 200, {
      expectedVersion: 0,
      turns: [
        { role: 'user', content: 'My order #123 never arrived.', ref: 'm1', at: '2026-01-02T03:04:05+01:00' },
        { role: 'assistant', content: 'Sorry! Let me check.' },
      ],
      userId: 'u-oas',
    });
    await check('POST', turns, `${base}/turns`, res.errorBodySchema, 409, {
      expectedVersion: 0,
      turns: [{ role: 'user', content: 'late' }],
    });
    await check('POST', turns, `${base}/turns`, res.errorBodySchema, 400, {
      expectedVersion: 1,
      turns: [{ role: 'robot', content: 'x' }],
    });
    await check('GET', '/v1/sessions/{sessionId}', base, res.sessionSchema, 200);
    await check('GET', '/v1/sessions/{sessionId}', `${base}-none`, res.errorBodySchema, 404);
    await check(
      'GET',
      '/v1/sessions/{sessionId}/events',
      `${base}/events?after=0`,
      res.eventsPageSchema,
      200,
    );
    await check('GET', '/v1/sessions/{sessionId}/events', `${base}/events?limit=0`, res.errorBodySchema, 400);
    await check('POST', '/v1/facts', '/v1/facts', res.factUpsertAnswerSchema, 201, {
      userId: 'u-oas',
      key: 'order',
      text: 'Order 123 was shipped on Monday.',
      citations: [{ sessionId: sid, seq: 1, ref: 'm1' }],
    });
    await check('GET', '/v1/facts', '/v1/facts?userId=u-oas&query=order', res.factSearchAnswerSchema, 200);
    const profile = '/v1/users/{userId}/profile';
    await check('PUT', profile, '/v1/users/u-oas/profile', res.profileSchema, 201, {
      expectedVersion: 0,
      attributes: { plan: 'pro', seats: 5, beta: true, languages: ['en', 'de'] },
    });
    await check('PUT', profile, '/v1/users/u-oas/profile', res.errorBodySchema, 409, {
      expectedVersion: 0,
      attributes: {},
    });
    await check('GET', profile, '/v1/users/u-oas/profile', res.profileSchema, 200);
    await check('GET', profile, '/v1/users/u-none/profile', res.errorBodySchema, 404);
    const context = await check(
      'POST',
      '/v1/sessions/{sessionId}/context',
      `${base}/context`,
      res.contextResponseSchema,
      200,
      { route: 'default', input: 'Where is order 123?', userId: 'u-oas', budget: { total: 99_999 } },
    );
    await check('POST', '/v1/sessions/{sessionId}/context', `${base}/context`, res.errorBodySchema, 404, {
      route: 'nope:prod',
      input: 'x',
    });
    await check('PUT', '/v1/cache', '/v1/cache', res.cachePutAnswerSchema, 200, {
      question: 'Where is order 123?',
      fingerprint: context.fingerprint,
      answer: { text: 'Shipped Monday.' },
      sessionId: sid,
      sessionStamp: context.sessionStamp,
    });
    const q = new URLSearchParams({
      question: 'where is order 123',
      fingerprint: String(context.fingerprint),
    });
    await check('GET', '/v1/cache', `/v1/cache?${q}`, res.cacheGetAnswerSchema, 200);
    const invocations = '/v1/sessions/{sessionId}/tools/{toolName}/invocations';
    await check('POST', invocations, `${base}/tools/nope/invocations`, res.errorBodySchema, 404, {
      stepIndex: 0,
    });
    const upserted = await check('POST', '/v1/facts', '/v1/facts', res.factUpsertAnswerSchema, 201, {
      userId: 'u-oas',
      key: 'order',
      text: 'Order 123 arrived on Tuesday.',
    });
    const factId = (upserted.fact as { id: string }).id;
    const history = '/v1/facts/{factId}/history';
    await check('GET', history, `/v1/facts/${factId}/history?limit=1`, res.factHistorySchema, 200);
    await check('GET', history, '/v1/facts/f-none/history', res.errorBodySchema, 404);
    const deletion = await check('DELETE', '/v1/sessions/{sessionId}', base, deletionAcceptedSchema, 202);
    await check('DELETE', '/v1/users/{userId}', '/v1/users/u-none', res.errorBodySchema, 404);
    await check('DELETE', '/v1/facts/{factId}', `/v1/facts/f-${'0'.repeat(32)}`, res.errorBodySchema, 404);
    await check('GET', '/v1/deletions/{id}', `/v1/deletions/${deletion.id}`, deletionStatusSchema, 200);
    const health = await fetch(`${server.url}/v1/health`);
    const healthBody = await health.json();
    conforms('GET', '/v1/health', health.status, healthBody);
    parses(res.healthSchema, healthBody);
  });

  it("API Gateway's own 401 and 403", async () => {
    const noKey = await fetch(`${server.url}/v1/facts`);
    expect(noKey.status).toBe(401);
    conforms('GET', '/v1/facts', 401, await noKey.json());
    const badKey = await fetch(`${server.url}/v1/facts`, { headers: { authorization: 'Bearer nope' } });
    expect(badKey.status).toBe(403);
    conforms('GET', '/v1/facts', 403, await badKey.json());
  });
});
