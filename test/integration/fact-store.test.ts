import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { env } from '../../lambdas/config';
import { scopeOf } from '../../lambdas/domain/fact-upsert';
import type { FactQuery } from '../../lambdas/domain/retrieval';
import { dynamo } from '../../lambdas/stores/clients';
import { FactStore } from '../../lambdas/stores/fact-store';
import { keys } from '../../lambdas/stores/keys';
import { uniqueId } from '../support/ids';

const store = new FactStore();
const query = (q: string, over: Partial<FactQuery> = {}): FactQuery => ({
  query: q,
  topK: 10,
  halfLifeDays: 30,
  pinnedBoost: 2,
  minScore: 0,
  now: new Date(),
  ...over,
});
const texts = async (tenant: string, q: FactQuery) => (await store.search(tenant, q)).map((s) => s.fact.text);

async function postingsOf(tenant: string, term: string, userId?: string) {
  const out = await dynamo().send(
    new QueryCommand({
      TableName: env('factsTable'),
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.factTerm(tenant, scopeOf(userId), term).pk },
      ConsistentRead: true,
    }),
  );
  return out.Items ?? [];
}

describe('FactStore against the emulator', () => {
  it('upserts by key: a newer fact replaces the old one, never duplicates it, and its old terms go', async () => {
    const tenant = uniqueId('t');
    const first = await store.upsert(tenant, {
      key: 'contact',
      text: 'Customer prefers email contact',
      citations: [{ sessionId: 's1', seq: 4 }],
    });
    expect(first).toMatchObject({ deduplicated: false, fact: { version: 1 } });
    const second = await store.upsert(tenant, { key: 'contact', text: 'Customer prefers phone contact' });
    expect(second).toMatchObject({ deduplicated: true, fact: { id: first.fact.id, version: 2 } });
    expect(second.fact.citations).toEqual([{ sessionId: 's1', seq: 4 }]);

    const found = await store.search(tenant, query('customer contact email phone'));
    expect(found.map((s) => [s.fact.id, s.fact.version, s.fact.text])).toEqual([
      [first.fact.id, 2, 'Customer prefers phone contact'],
    ]);
    expect(await texts(tenant, query('email'))).toEqual([]);
    expect(await postingsOf(tenant, 'email')).toEqual([]);
    expect(await postingsOf(tenant, 'contact')).toHaveLength(1);
  });

  it('stores the token count once, and a restatement writes nothing new', async () => {
    const tenant = uniqueId('t');
    const a = await store.upsert(tenant, { text: 'The refund window is 30 days' });
    expect(a.fact.tokens).toBeGreaterThan(3);
    const b = await store.upsert(tenant, { text: '  The refund window   is 30 days ' });
    expect(b).toMatchObject({ deduplicated: true, fact: { id: a.fact.id, version: 1 } });
    expect(await store.get(tenant, a.fact.id)).toEqual(a.fact);
  });

  it('returns the same ids in the same order twice, ties broken by id', async () => {
    const tenant = uniqueId('t');
    const at = new Date();
    for (let i = 0; i < 12; i++) {
      await store.upsert(tenant, {
        key: `k${i}`,
        text: `Order ${i} shipped via ${i % 3 === 0 ? 'air' : 'sea'}`,
      });
    }
    const q = query('order shipped air', { now: at });
    const one = await store.search(tenant, q);
    const two = await store.search(tenant, q);
    expect(one.map((s) => s.fact.id)).toEqual(two.map((s) => s.fact.id));
    expect(one.map((s) => s.score)).toEqual(two.map((s) => s.score));
    expect(one).toHaveLength(10);
    expect(one.slice(0, 4).every((s) => s.fact.text.endsWith('air'))).toBe(true);
    for (let i = 1; i < one.length; i++) {
      const [p, c] = [one[i - 1]!, one[i]!];
      expect(p.score > c.score || (p.score === c.score && p.fact.id < c.fact.id)).toBe(true);
    }
  });

  it('keeps user facts to their user; tenant-wide facts reach everyone; pinned facts always come', async () => {
    const tenant = uniqueId('t');
    await store.upsert(tenant, { text: 'Support hours are 9 to 5 CET' });
    await store.upsert(tenant, { userId: 'u1', text: 'u1 support tier is gold' });
    await store.upsert(tenant, { userId: 'u2', text: 'u2 support tier is bronze' });
    await store.upsert(tenant, { userId: 'u1', text: 'Always answer u1 in German', pinned: true });
    expect(await texts(tenant, query('support tier', { userId: 'u1' }))).toEqual([
      'Always answer u1 in German',
      'u1 support tier is gold',
      'Support hours are 9 to 5 CET',
    ]);
    expect(await texts(tenant, query('support', { userId: 'u2' }))).toEqual([
      'u2 support tier is bronze',
      'Support hours are 9 to 5 CET',
    ]);
    expect(await texts(tenant, query('support'))).toEqual(['Support hours are 9 to 5 CET']);
  });

  it('unpinning removes a fact from the pinned list', async () => {
    const tenant = uniqueId('t');
    await store.upsert(tenant, { key: 'lang', text: 'Answer in French', pinned: true });
    expect(await texts(tenant, query('unrelated words'))).toEqual(['Answer in French']);
    await store.upsert(tenant, { key: 'lang', text: 'Answer in French', pinned: false });
    expect(await texts(tenant, query('unrelated words'))).toEqual([]);
  });

  it('serializes concurrent upserts of one key into one fact with every version counted', async () => {
    const tenant = uniqueId('t');
    const results = await Promise.all(
      [1, 2, 3, 4].map((i) => store.upsert(tenant, { key: 'plan', text: `Plan is tier ${i}` })),
    );
    expect(new Set(results.map((r) => r.fact.id)).size).toBe(1);
    const found = await store.search(tenant, query('plan tier'));
    expect(found).toHaveLength(1);
    expect(found[0]!.fact.version).toBe(4);
    expect((await postingsOf(tenant, 'plan')).length).toBe(1);
  });

  it("never reads another tenant's facts, even with the same key and id", async () => {
    const a = uniqueId('t');
    const b = uniqueId('t');
    const { fact } = await store.upsert(a, { key: 'secret', text: 'Launch code is alpha', pinned: true });
    expect(await store.search(b, query('launch code alpha'))).toEqual([]);
    expect(await store.get(b, fact.id)).toBeNull();
    const other = await store.upsert(b, { key: 'secret', text: 'Launch code is beta' });
    expect(other.fact.id).toBe(fact.id);
    expect(other.deduplicated).toBe(false);
    expect(await texts(a, query('launch code'))).toEqual(['Launch code is alpha']);
  });

  it("keeps a session's facts (no user) to that session: never the tenant's, never another user's", async () => {
    const tenant = uniqueId('t');
    await store.upsert(tenant, { sessionId: 's1', key: 'user:name', text: 'User: My name is Priya Raman.' });
    const ask = query('what is my name');
    expect(await texts(tenant, { ...ask, sessionId: 's1' })).toEqual(['User: My name is Priya Raman.']);
    expect(await texts(tenant, { ...ask, sessionId: 's2', userId: 'u2' })).toEqual([]);
    expect(await texts(tenant, ask)).toEqual([]);
  });
});
