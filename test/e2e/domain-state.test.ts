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
  it('upserts by key and finds the newest version, for its tenant only', async () => {
    const first = await call('POST', '/v1/facts', {
      body: {
        key: 'sla',
        text: 'Premium SLA response time is 4 hours',
        citations: [{ sessionId: 's1', seq: 2 }],
      },
    });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ deduplicated: false, fact: { version: 1, pinned: false } });
    const second = await call('POST', '/v1/facts', {
      body: { key: 'sla', text: 'Premium SLA response time is 2 hours' },
    });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ deduplicated: true, fact: { id: first.body.fact.id, version: 2 } });

    const found = await call('GET', '/v1/facts?query=premium%20SLA%20response&limit=5');
    expect(found.status).toBe(200);
    expect(found.body.facts).toHaveLength(1);
    expect(found.body.facts[0]).toMatchObject({ text: 'Premium SLA response time is 2 hours', version: 2 });
    expect(found.body.facts[0].score).toBeGreaterThan(0);
    expect((await call('GET', '/v1/facts?query=premium%20SLA', { key: tenantB.key })).body.facts).toEqual([]);
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
