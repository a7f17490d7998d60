import { describe, expect, it } from 'vitest';
import { handler as cache } from '../../lambdas/handlers/cache';
import { handler as context } from '../../lambdas/handlers/context';
import { handler as facts } from '../../lambdas/handlers/facts';
import { handler as profiles } from '../../lambdas/handlers/profiles';
import { handler as sessions } from '../../lambdas/handlers/sessions';
import { handler as tools } from '../../lambdas/handlers/tools';
import { MAX_JSON_DEPTH } from '../../lambdas/http/json-input';
import { match } from '../../local/server';
import { uniqueId } from '../support/ids';
import { invoke } from '../support/lambda-events';

/** Issue 10, defect 8: hostile input is a 400 naming the field, never a 500. */
const tenantId = uniqueId('hostile');
const fieldsOf = (res: { body: { error: { details: { fields: { path: string }[] } } } }) =>
  res.body.error.details.fields.map((f) => f.path);

/** `{"a":{"a":...}}` as raw text: 10,000 levels, as a client would send it. */
const deep = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;

describe('hostile input', () => {
  it('refuses a 255 KiB context input with 413 naming it, before tokenizing it (issue 10, defect 7)', async () => {
    // One letter repeated: the input whose tokenizing used to take tens of seconds and stall the process.
    const res = await invoke(context, {
      routeKey: 'POST /v1/sessions/{sessionId}/context',
      tenantId,
      params: { sessionId: 's-1' },
      body: JSON.stringify({ route: 'default', input: 'a'.repeat(255 * 1024) }),
    });
    expect(res.status).toBe(413);
    expect(res.body.error).toMatchObject({ code: 'payload_too_large', details: { field: 'input' } });
  });

  it('refuses a 10,000-level cache answer with 400 naming it', async () => {
    const res = await invoke(cache, {
      routeKey: 'PUT /v1/cache',
      tenantId,
      body: `{"question":"what is deep","fingerprint":"fp-1","answer":${deep(10_000)}}`,
    });
    expect(res.status).toBe(400);
    expect(fieldsOf(res)[0]).toMatch(/^answer(\.a)+$/);
    expect(res.body.error.details.fields[0].message).toContain(`${MAX_JSON_DEPTH} levels`);
  });

  it('refuses 10,000-level tool arguments with 400 naming them', async () => {
    const res = await invoke(tools, {
      routeKey: 'POST /v1/sessions/{sessionId}/tools/{toolName}/invocations',
      tenantId,
      params: { sessionId: 's-1', toolName: 'lookup' },
      body: `{"stepIndex":0,"arguments":${deep(10_000)}}`,
    });
    expect(res.status).toBe(400);
    expect(fieldsOf(res)[0]).toMatch(/^arguments(\.a)+$/);
  });

  it('accepts nesting up to the documented depth', async () => {
    const res = await invoke(cache, {
      routeKey: 'PUT /v1/cache',
      tenantId,
      body: `{"question":"what is deep","fingerprint":"fp-1","answer":${deep(MAX_JSON_DEPTH - 1)}}`,
    });
    expect(res.status).toBe(200);
  });

  it('refuses a lone surrogate in any stored string with 400 naming the field', async () => {
    const turn = await invoke(sessions, {
      routeKey: 'POST /v1/sessions/{sessionId}/turns',
      tenantId,
      params: { sessionId: uniqueId('s') },
      body: '{"expectedVersion":0,"turns":[{"role":"user","content":"a\\ud800"}]}',
    });
    expect(turn.status).toBe(400);
    expect(fieldsOf(turn)).toEqual(['turns.0.content']);

    const fact = await invoke(facts, { routeKey: 'POST /v1/facts', tenantId, body: '{"text":"a\\udc00b"}' });
    expect(fact.status).toBe(400);
    expect(fieldsOf(fact)).toEqual(['text']);

    const key = await invoke(cache, {
      routeKey: 'PUT /v1/cache',
      tenantId,
      body: '{"question":"q","fingerprint":"fp","answer":{"\\ud800x":1}}',
    });
    expect(key.status).toBe(400);
    expect(fieldsOf(key)[0]).toMatch(/^answer\./);

    const query = await invoke(facts, { routeKey: 'GET /v1/facts', tenantId, query: { query: 'x\ud800' } });
    expect(query.status).toBe(400);
    expect(fieldsOf(query)).toEqual(['query']);
  });

  it('refuses a version whose successor is not a safe integer (found by the fuzz suite)', async () => {
    const res = await invoke(profiles, {
      routeKey: 'PUT /v1/users/{userId}/profile',
      tenantId,
      params: { userId: 'u-1' },
      body: { expectedVersion: Number.MAX_SAFE_INTEGER, attributes: { plan: 'pro' } },
    });
    expect(res.status).toBe(400);
    expect(fieldsOf(res)).toEqual(['expectedVersion']);
  });

  it('maps a malformed % escape in a path to a 400 naming the parameter', async () => {
    for (const path of ['/v1/sessions/a%zz', '/v1/sessions/%ED%A0%80']) {
      const found = match('GET', path);
      expect(found?.route.path).toBe('/v1/sessions/{sessionId}');
      const res = await invoke(sessions, {
        routeKey: 'GET /v1/sessions/{sessionId}',
        tenantId,
        params: found!.params,
      });
      expect(res.status).toBe(400);
      expect(fieldsOf(res)).toEqual(['sessionId']);
    }
  });
});
