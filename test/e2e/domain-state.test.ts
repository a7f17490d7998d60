import { describe, expect, it } from 'vitest';
import { newTenant, useServer } from '../support/api';
import { uniqueId } from '../support/ids';

/** Facts, profiles and the output cache over HTTP, against `npm start`'s server on this run's emulator. */
const tenantA = newTenant('acme');
const tenantB = newTenant('globex');
const { call } = useServer([tenantA, tenantB]);

const fieldsOf = (body: { error: { details: { fields: { path: string }[] } } }) =>
  body.error.details.fields.map((f) => f.path);

describe('facts over HTTP', () => {
  it('supersedes by key: the new value is a new version, the old one history, for its tenant only', async () => {
    const first = await call('POST', '/v1/facts', {
      body: {
        key: 'sla',
        text: 'Premium SLA response time is 4 hours',
        citations: [{ sessionId: 's1', seq: 2 }],
      },
    });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ deduplicated: false, fact: { version: 1, pinned: false } });
    const again = await call('POST', '/v1/facts', {
      body: { key: 'sla', text: 'Premium SLA response time is 4 hours' },
    });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ deduplicated: true, fact: first.body.fact });
    const second = await call('POST', '/v1/facts', {
      body: { key: 'sla', text: 'Premium SLA response time is 2 hours' },
    });
    expect(second.status).toBe(201);
    expect(second.body).toMatchObject({
      deduplicated: false,
      fact: { version: 2, supersedes: first.body.fact.id, citations: [{ sessionId: 's1', seq: 2 }] },
    });
    expect(second.body.fact.id).not.toBe(first.body.fact.id);

    const found = await call('GET', '/v1/facts?query=premium%20SLA%20response%204%20hours&limit=5');
    expect(found.status).toBe(200);
    expect(found.body.facts).toHaveLength(1);
    expect(found.body.facts[0]).toMatchObject({ text: 'Premium SLA response time is 2 hours', version: 2 });
    expect(found.body.facts[0].score).toBeGreaterThan(0);
    expect((await call('GET', '/v1/facts?query=premium%20SLA', { key: tenantB.key })).body.facts).toEqual([]);

    const history = await call('GET', `/v1/facts/${first.body.fact.id}/history`);
    expect(history.status).toBe(200);
    expect(history.body).toEqual({
      facts: [
        second.body.fact,
        { ...first.body.fact, supersededBy: second.body.fact.id, validUntil: second.body.fact.createdAt },
      ],
    });
    const other = await call('GET', `/v1/facts/${first.body.fact.id}/history`, { key: tenantB.key });
    expect(other.status).toBe(404);
  });

  it('pages the history newest first; 404 for an unknown id, 400 naming a bad one', async () => {
    const key = uniqueId('k');
    const ids: string[] = [];
    for (const hours of [8, 6, 4]) {
      const res = await call('POST', '/v1/facts', { body: { key, text: `Response time is ${hours} hours` } });
      expect(res.status).toBe(201);
      ids.push(res.body.fact.id);
    }
    const page1 = await call('GET', `/v1/facts/${ids[2]}/history?limit=2`);
    expect(page1.body.facts.map((f: { id: string }) => f.id)).toEqual([ids[2], ids[1]]);
    expect(page1.body.next).toBe(2);
    const page2 = await call('GET', `/v1/facts/${ids[0]}/history?limit=2&before=${page1.body.next}`);
    expect(page2.body).toEqual({ facts: [expect.objectContaining({ id: ids[0], supersededBy: ids[1] })] });

    const missing = await call('GET', `/v1/facts/${uniqueId('f')}/history`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    const bad = await call('GET', '/v1/facts/not*an*id/history');
    expect(bad.status).toBe(400);
    expect(fieldsOf(bad.body)).toEqual(['factId']);
    const badPage = await call('GET', `/v1/facts/${ids[0]}/history?limit=0&before=x`);
    expect(badPage.status).toBe(400);
    expect(fieldsOf(badPage.body).sort()).toEqual(['before', 'limit']);
  });

  it('never puts a superseded value in a context, pinned or found by the question', async () => {
    const sessionId = uniqueId('s');
    const userId = uniqueId('u');
    const turns = [{ role: 'user', content: 'Where will my order be shipped?' }];
    expect(
      (await call('POST', `/v1/sessions/${sessionId}/turns`, { body: { expectedVersion: 0, turns, userId } }))
        .status,
    ).toBe(200);
    await call('POST', '/v1/facts', {
      body: { userId, key: 'address', text: 'Orders ship to Rua Augusta 12, Lisbon', pinned: true },
    });
    await call('POST', '/v1/facts', {
      body: { userId, key: 'carrier', text: 'Orders ship with DHL Express' },
    });
    await call('POST', '/v1/facts', {
      body: { userId, key: 'address', text: 'Orders ship to Avenida 5, Porto' },
    });
    await call('POST', '/v1/facts', {
      body: { userId, key: 'carrier', text: 'Orders ship with UPS Standard' },
    });
    const built = await call('POST', `/v1/sessions/${sessionId}/context`, {
      body: { route: 'default', input: 'Where do orders ship to: Lisbon or Porto? DHL or UPS?', userId },
    });
    expect(built.status).toBe(200);
    const served = JSON.stringify(built.body.messages);
    expect(served).toContain('Avenida 5, Porto');
    expect(served).toContain('UPS Standard');
    expect(served).not.toContain('Rua Augusta');
    expect(served).not.toContain('DHL Express');
  });

  it('names the failing fields of bad input', async () => {
    const res = await call('POST', '/v1/facts', { body: { text: '', userId: 'bad#id', extra: true } });
    expect(res.status).toBe(400);
    expect(fieldsOf(res.body)).toEqual(expect.arrayContaining(['text', 'userId']));
    const q = await call('GET', '/v1/facts?query=x&limit=500');
    expect(q.status).toBe(400);
    expect(fieldsOf(q.body)).toEqual(['limit']);
  });

  it('refuses a body over the limit with 413', async () => {
    const res = await call('POST', '/v1/facts', { raw: JSON.stringify({ text: 'x'.repeat(300 * 1024) }) });
    expect(res.status).toBe(413);
  });
});

describe('profiles over HTTP', () => {
  it('creates, reads, and answers a stale version with 409 and the current version', async () => {
    const userId = uniqueId('u');
    const created = await call('PUT', `/v1/users/${userId}/profile`, {
      body: { expectedVersion: 0, attributes: { tier: 'pro', seats: 5, langs: ['en'] } },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ userId, version: 1, lines: { tier: { text: 'tier: pro' } } });
    const read = await call('GET', `/v1/users/${userId}/profile`);
    expect(read.body).toEqual(created.body);
    const stale = await call('PUT', `/v1/users/${userId}/profile`, {
      body: { expectedVersion: 0, attributes: { tier: 'free' } },
    });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toMatchObject({ code: 'version_conflict', details: { currentVersion: 1 } });
    expect((await call('GET', `/v1/users/${userId}/profile`, { key: tenantB.key })).status).toBe(404);
  });

  it('answers 404 for an unknown profile and 400 naming nested blobs', async () => {
    const missing = await call('GET', `/v1/users/${uniqueId('nobody')}/profile`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    const bad = await call('PUT', '/v1/users/u1/profile', {
      body: { expectedVersion: 0, attributes: { prefs: { theme: 'dark' } } },
    });
    expect(bad.status).toBe(400);
    expect(fieldsOf(bad.body)).toEqual(['attributes.prefs']);
  });
});

describe('output cache over HTTP', () => {
  it('stores and hits on the normalized question, and misses after the session moved', async () => {
    const sessionId = uniqueId('s');
    const turn = { role: 'user', content: 'hello' };
    expect(
      (await call('POST', `/v1/sessions/${sessionId}/turns`, { body: { expectedVersion: 0, turns: [turn] } }))
        .status,
    ).toBe(200);
    const put = await call('PUT', '/v1/cache', {
      body: {
        question: 'How do I reset my password?',
        fingerprint: 'fp-1',
        answer: 'Use the link.',
        sessionId,
        sessionStamp: '1.0',
      },
    });
    expect(put.status).toBe(200);
    const hit = await call(
      'GET',
      `/v1/cache?question=${encodeURIComponent('how do i reset my password')}&fingerprint=fp-1`,
    );
    expect(hit.body).toMatchObject({ hit: true, answer: 'Use the link.' });
    expect(
      (
        await call('GET', '/v1/cache?question=how%20do%20i%20reset%20my%20password&fingerprint=fp-1', {
          key: tenantB.key,
        })
      ).body,
    ).toEqual({ hit: false });
    await call('POST', `/v1/sessions/${sessionId}/turns`, { body: { expectedVersion: 1, turns: [turn] } });
    const miss = await call(
      'GET',
      '/v1/cache?question=how%20do%20i%20reset%20my%20password&fingerprint=fp-1',
    );
    expect(miss.body).toEqual({ hit: false });
  });

  it('names the missing fields', async () => {
    const res = await call('GET', '/v1/cache?question=hello');
    expect(res.status).toBe(400);
    expect(fieldsOf(res.body)).toEqual(['fingerprint']);
    const put = await call('PUT', '/v1/cache', {
      body: { question: '?!', fingerprint: 'f', answer: 'a', ttlSeconds: 0 },
    });
    expect(put.status).toBe(400);
    expect(fieldsOf(put.body)).toEqual(['question', 'ttlSeconds']);
  });
});
