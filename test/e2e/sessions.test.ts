import { describe, expect, it } from 'vitest';
import { newTenant, useServer } from '../support/api';
import { uniqueId } from '../support/ids';
import { startProcess } from '../support/start-process';

/** Session memory over HTTP against `npm start`'s server, on this run's emulator. */
const tenantA = newTenant('acme');
const tenantB = newTenant('globex');
const { call } = useServer([tenantA, tenantB]);

const turn = (content: string, role = 'user') => ({ role, content });

describe('sessions over HTTP', () => {
  it('answers health without a key, with each store up', async () => {
    const res = await call('GET', '/v1/health', { key: null });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
    expect(Object.values(res.body.stores).every((s) => (s as { status: string }).status === 'ok')).toBe(true);
  });

  it('creates, appends with CAS, reads and lists events', async () => {
    const id = uniqueId('sess');
    const created = await call('POST', `/v1/sessions/${id}/turns`, {
      body: {
        expectedVersion: 0,
        turns: [turn('My order #123 never arrived.'), turn('Sorry! Let me check.', 'assistant')],
      },
    });
    expect(created.status).toBe(200);
    expect(created.body.version).toBe(1);
    expect(created.body.tokens).toBeGreaterThan(5);
    expect(created.headers.get('x-correlation-id')).toBe('test-corr-1');

    const appended = await call('POST', `/v1/sessions/${id}/turns`, {
      body: { expectedVersion: 1, turns: [{ role: 'user', content: 'Thanks', ref: 'msg-42' }] },
    });
    expect(appended.body.version).toBe(2);

    const stale = await call('POST', `/v1/sessions/${id}/turns`, {
      body: { expectedVersion: 1, turns: [turn('late')] },
    });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toMatchObject({ code: 'version_conflict', details: { currentVersion: 2 } });

    const session = await call('GET', `/v1/sessions/${id}`);
    expect(session.status).toBe(200);
    expect(session.body).toMatchObject({ sessionId: id, version: 2, summary: null });
    expect(session.body.recentTurns.map((t: { content: string }) => t.content)).toEqual([
      'My order #123 never arrived.',
      'Sorry! Let me check.',
      'Thanks',
    ]);
    expect(session.body.recentTurns[2].ref).toBe('msg-42');
    expect(session.body.tokenCounts.total).toBe(created.body.tokens + appended.body.tokens);
    expect(session.body.expiresAt).toBeGreaterThan(Date.now() / 1000);

    const events = await call('GET', `/v1/sessions/${id}/events?after=1`);
    expect(events.body.events.map((e: { seq: number }) => e.seq)).toEqual([2, 3]);
    expect(events.body.events[0]).toMatchObject({ type: 'turn_appended', data: { version: 1 } });
  });

  it('refuses bad input with 400 naming the fields, and changes nothing', async () => {
    const id = uniqueId('sess');
    await call('POST', `/v1/sessions/${id}/turns`, { body: { expectedVersion: 0, turns: [turn('hi')] } });
    const bad = await call('POST', `/v1/sessions/${id}/turns`, {
      body: { expectedVersion: -1, turns: [{ role: 'wizard', content: 3 }] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_error');
    const paths = bad.body.error.details.fields.map((f: { path: string }) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['expectedVersion', 'turns.0.role', 'turns.0.content']));

    expect((await call('POST', `/v1/sessions/${id}/turns`, { raw: '{not json' })).status).toBe(400);
    const badId = await call('GET', '/v1/sessions/has%23hash');
    expect(badId.status).toBe(400);
    expect(badId.body.error.details.fields[0].path).toBe('sessionId');
    const tooBig = await call('POST', `/v1/sessions/${id}/turns`, {
      body: { expectedVersion: 1, turns: [turn('x'.repeat(300 * 1024))] },
    });
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error.code).toBe('payload_too_large');
    expect((await call('GET', `/v1/sessions/${id}`)).body.version).toBe(1);
  });

  it('needs a key (401), denies an unknown key (403), and hides other tenants’ sessions (404)', async () => {
    const id = uniqueId('sess');
    await call('POST', `/v1/sessions/${id}/turns`, {
      body: { expectedVersion: 0, turns: [turn('private')] },
    });
    expect((await call('GET', `/v1/sessions/${id}`, { key: null })).status).toBe(401);
    expect((await call('GET', `/v1/sessions/${id}`, { key: 'not-a-real-key' })).status).toBe(403);

    const asB = await call('GET', `/v1/sessions/${id}`, { key: tenantB.key });
    expect(asB.status).toBe(404);
    expect(asB.body.error.code).toBe('not_found');
    expect((await call('GET', `/v1/sessions/${id}/events`, { key: tenantB.key })).status).toBe(404);
    // B writing "the same" session creates B's own, and A's stays as it was.
    const writeAsB = await call('POST', `/v1/sessions/${id}/turns`, {
      key: tenantB.key,
      body: { expectedVersion: 0, turns: [turn('b')] },
    });
    expect(writeAsB.body.version).toBe(1);
    const a = await call('GET', `/v1/sessions/${id}`);
    expect(a.body.recentTurns.map((t: { content: string }) => t.content)).toEqual(['private']);
  });

  it('answers 404 for a session that does not exist', async () => {
    const res = await call('GET', `/v1/sessions/${uniqueId('nope')}`);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});

describe('npm start with the embedded emulator', () => {
  it('starts its own DynamoDB Local and moto, serves, and leaves nothing running after SIGINT', async () => {
    const own = await startProcess({
      AWS_ENDPOINT_URL: undefined,
      AWS_ENDPOINT_URL_DYNAMODB: undefined,
      CONTEXT_PLANE_TENANTS: undefined,
    });
    const port = /starting moto [\d.]+ on port (\d+)/.exec(own.output())?.[1];
    const ddbPort = /starting DynamoDB Local [\d.]+ on port (\d+)/.exec(own.output())?.[1];
    expect(port).toBeDefined();
    expect(ddbPort).toBeDefined();
    expect(own.output()).toContain(`AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:${ddbPort}`);
    expect(own.output()).toContain('tenant demo: Authorization: Bearer cp_local_demo_key');
    const health = await fetch(`${own.url}/v1/health`);
    expect(health.status).toBe(200);
    expect(await own.stop('SIGINT')).toBe(0);
    await expect(fetch(`http://127.0.0.1:${port}/moto-api/`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${ddbPort}/`)).rejects.toThrow();
    await expect(fetch(`${own.url}/v1/health`)).rejects.toThrow();
  }, 120_000);
});
