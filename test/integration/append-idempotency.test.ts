import { describe, expect, it } from 'vitest';
import { handler } from '../../lambdas/handlers/sessions';
import { uniqueId } from '../support/ids';
import { invoke } from '../support/lambda-events';

/** Issue 10, defect 9: an append with an Idempotency-Key is safe to retry after a lost response. */
const tenantId = uniqueId('idem');
const routeKey = 'POST /v1/sessions/{sessionId}/turns';
const append = (sessionId: string, body: unknown, key?: string) =>
  invoke(handler, {
    routeKey,
    tenantId,
    params: { sessionId },
    body,
    headers: key === undefined ? {} : { 'idempotency-key': key },
  });
const read = (sessionId: string) =>
  invoke(handler, { routeKey: 'GET /v1/sessions/{sessionId}', tenantId, params: { sessionId } });
const turns = (content: string) => [{ role: 'user', content }];

describe('appends with an Idempotency-Key', () => {
  it('answers a retry with the original answer, once applied, and refuses the key for another body', async () => {
    const id = uniqueId('s');
    await append(id, { expectedVersion: 0, turns: turns('first') });
    const body = { expectedVersion: 1, turns: turns('second'), route: 'default' };
    const first = await append(id, body, 'k-1');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ version: 2, lastSeq: 2 });

    // The response was lost; the client retries the same request (key order does not matter).
    const retry = await append(id, { route: 'default', turns: turns('second'), expectedVersion: 1 }, 'k-1');
    expect(retry.status).toBe(200);
    expect(retry.body).toEqual(first.body);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect((await read(id)).body).toMatchObject({ version: 2, lastSeq: 2 });

    const reused = await append(id, { expectedVersion: 2, turns: turns('third') }, 'k-1');
    expect(reused.status).toBe(422);
    expect(reused.body.error).toMatchObject({
      code: 'idempotency_key_reused',
      details: { idempotencyKey: 'k-1' },
    });

    // Without a key, the same retry is a version conflict, as before.
    expect((await append(id, body)).status).toBe(409);
  });

  it('applies concurrent requests with one key once, and each gets the answer', async () => {
    const id = uniqueId('s');
    const body = { expectedVersion: 0, turns: turns('hello') };
    const answers = await Promise.all(Array.from({ length: 8 }, () => append(id, body, 'same')));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    for (const a of answers) expect(a.body).toEqual(answers[0]!.body);
    expect((await read(id)).body).toMatchObject({ version: 1, lastSeq: 1 });
  });

  it('keeps keys apart per session and refuses a malformed key', async () => {
    const [a, b] = [uniqueId('s'), uniqueId('s')];
    const body = { expectedVersion: 0, turns: turns('x') };
    expect((await append(a, body, 'shared')).status).toBe(200);
    expect((await append(b, body, 'shared')).headers['idempotent-replayed']).toBeUndefined();
    const bad = await append(a, body, 'has space');
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.fields[0].path).toBe('Idempotency-Key');
  });
});
