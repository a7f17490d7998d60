import { describe, expect, it } from 'vitest';
import { newTenant, useServer } from '../support/api';
import { uniqueId } from '../support/ids';

/**
 * Deletion over HTTP against `npm start`: the deletion queue is polled by the local runtime and fed
 * to the deleter, as SQS feeds it in AWS; its sweep waits 1 s here (120 s by default).
 */
process.env.CP_DELETION_GRACE_SECONDS = '1';
const tenant = newTenant('erase');
const { call } = useServer([tenant]);

async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('deletion over HTTP', () => {
  it('accepts with 202 and an id, reports progress, then refuses writes to what it deleted', async () => {
    const userId = uniqueId('u');
    const sessionId = uniqueId('s');
    const turns = [{ role: 'user', content: 'My name is Ana and I live in Lisbon.' }];
    expect(
      (await call('POST', `/v1/sessions/${sessionId}/turns`, { body: { expectedVersion: 0, turns, userId } }))
        .status,
    ).toBe(200);
    expect((await call('POST', '/v1/facts', { body: { userId, text: 'Ana lives in Lisbon' } })).status).toBe(
      201,
    );
    expect(
      (
        await call('PUT', `/v1/users/${userId}/profile`, {
          body: { expectedVersion: 0, attributes: { city: 'Lisbon' } },
        })
      ).status,
    ).toBe(201);

    const accepted = await call('DELETE', `/v1/users/${userId}`);
    expect(accepted.status).toBe(202);
    expect(accepted.body.id).toMatch(/^del-[0-9a-f]{32}$/);
    expect(accepted.headers.get('location')).toBe(`/v1/deletions/${accepted.body.id}`);

    const final = await until(
      () => call('GET', `/v1/deletions/${accepted.body.id}`),
      (r) => r.body.status === 'done',
    );
    expect(final.body).toMatchObject({ status: 'done', kind: 'user', sessionsDeleted: 1, pass: 2 });
    expect(final.body.counts).toMatchObject({ sessions: 1, events: 1, profiles: 1 });
    expect(final.body.counts.facts).toBeGreaterThan(0);
    expect(final.body.auditSeq).toBeGreaterThan(0);

    expect((await call('GET', `/v1/sessions/${sessionId}`)).status).toBe(404);
    expect((await call('GET', `/v1/users/${userId}/profile`)).status).toBe(404);
    expect((await call('GET', `/v1/facts?userId=${userId}&query=lisbon`)).body.facts).toEqual([]);
    const again = await call('POST', `/v1/sessions/${sessionId}/turns`, {
      body: { expectedVersion: 0, turns },
    });
    expect(again.status).toBe(404);
    expect(again.body.error.details).toMatchObject({ deleted: true });
    // Asked again: the same deletion, done.
    expect((await call('DELETE', `/v1/users/${userId}`)).body).toEqual({
      id: accepted.body.id,
      kind: 'user',
      status: 'done',
    });
  }, 120_000);
});
