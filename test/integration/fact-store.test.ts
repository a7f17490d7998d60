import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { env } from '../../lambdas/config';
import { lineageIdOf, scopeOf, versionIdOf } from '../../lambdas/domain/fact-upsert';
import type { Fact } from '../../lambdas/domain/facts';
import type { FactQuery } from '../../lambdas/domain/retrieval';
import { dynamo } from '../../lambdas/stores/clients';
import { type FactItemKey, FactStore, factStoreLimits } from '../../lambdas/stores/fact-store';
import { keys } from '../../lambdas/stores/keys';
import { uniqueId } from '../support/ids';

const store = new FactStore();
const table = env('factsTable');
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

async function partition(pk: string) {
  const out = await dynamo().send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
      ConsistentRead: true,
    }),
  );
  return out.Items ?? [];
}
const postingsOf = (tenant: string, term: string, userId?: string) =>
  partition(keys.factTerm(tenant, scopeOf(userId), term).pk);
const pinnedOf = (tenant: string, userId?: string) => partition(keys.pinnedFacts(tenant, scopeOf(userId)).pk);

/** The whole chain, newest first, through the paged history. */
async function chainOf(tenant: string, factId: string, limit = 100): Promise<Fact[]> {
  const out: Fact[] = [];
  let before: number | undefined;
  do {
    const page = await store.history(tenant, factId, { limit, before });
    if (!page) throw new Error(`no history for ${factId}`);
    out.push(...page.facts);
    before = page.next;
  } while (before !== undefined);
  return out;
}

/** A linear chain: versions n..1, each superseded by the one above it at the instant that one began. */
function expectLinear(chain: Fact[]) {
  expect(chain.map((f) => f.version)).toEqual(chain.map((_, i) => chain.length - i));
  expect(chain[0]).not.toHaveProperty('supersededBy');
  expect(chain[0]).not.toHaveProperty('validUntil');
  for (let i = 1; i < chain.length; i++) {
    const [newer, older] = [chain[i - 1]!, chain[i]!];
    expect(newer.supersedes).toBe(older.id);
    expect(older.supersededBy).toBe(newer.id);
    expect(older.validUntil).toBe(newer.createdAt);
    expect(Date.parse(older.createdAt)).toBeLessThanOrEqual(Date.parse(newer.createdAt));
  }
  expect(chain.at(-1)).not.toHaveProperty('supersedes');
}

async function drain(pages: AsyncGenerator<FactItemKey[]>): Promise<FactItemKey[]> {
  const all: FactItemKey[] = [];
  for await (const page of pages) all.push(...page);
  return all;
}

const deleteAll = async (found: FactItemKey[]) => {
  for (const Key of found) await dynamo().send(new DeleteCommand({ TableName: table, Key }));
};

/** A FactStore over the real client, noting the partition each Query reads (not a mock: it passes on). */
function countingQueries() {
  const queries: string[] = [];
  const counting = {
    send: (command: { constructor: { name: string }; input: { ExpressionAttributeValues?: object } }) => {
      if (command.constructor.name === 'QueryCommand') {
        queries.push(String((command.input.ExpressionAttributeValues as { ':pk': string })[':pk']));
      }
      return dynamo().send(command as never);
    },
  } as unknown as DynamoDBDocumentClient;
  return { counted: new FactStore(table, counting), queries };
}

describe('FactStore against the emulator', () => {
  it('supersedes by key: a new version with its own id, the old one kept as history and never served', async () => {
    const tenant = uniqueId('t');
    const first = await store.upsert(tenant, {
      key: 'contact',
      text: 'Customer prefers email contact',
      citations: [{ sessionId: 's1', seq: 4 }],
    });
    expect(first).toMatchObject({ deduplicated: false, fact: { version: 1 } });
    const second = await store.upsert(tenant, { key: 'contact', text: 'Customer prefers phone contact' });
    expect(second).toMatchObject({
      deduplicated: false,
      fact: {
        id: versionIdOf(lineageIdOf({ key: 'contact', text: '' }), 2),
        version: 2,
        supersedes: first.fact.id,
      },
    });
    expect(second.fact.citations).toEqual([{ sessionId: 's1', seq: 4 }]);
    expect(await store.get(tenant, first.fact.id)).toEqual({
      ...first.fact,
      supersededBy: second.fact.id,
      validUntil: second.fact.createdAt,
    });
    expect(await store.current(tenant, { key: 'contact', text: '' })).toEqual(second.fact);

    const found = await store.search(tenant, query('customer contact email phone'));
    expect(found.map((s) => [s.fact.id, s.fact.version, s.fact.text])).toEqual([
      [second.fact.id, 2, 'Customer prefers phone contact'],
    ]);
    expect(await texts(tenant, query('email'))).toEqual([]);
    expect(await postingsOf(tenant, 'email')).toEqual([]);
    expect((await postingsOf(tenant, 'contact')).map((p) => p.factId)).toEqual([second.fact.id]);
    expect(await chainOf(tenant, first.fact.id)).toEqual(await chainOf(tenant, second.fact.id));
    expectLinear(await chainOf(tenant, first.fact.id));
  });

  it('stores the token count once, and a restatement writes nothing new', async () => {
    const tenant = uniqueId('t');
    const a = await store.upsert(tenant, { text: 'The refund window is 30 days' });
    expect(a.fact.tokens).toBeGreaterThan(3);
    const b = await store.upsert(tenant, { text: '  The refund window   is 30 days ' });
    expect(b).toMatchObject({ deduplicated: true, fact: { id: a.fact.id, version: 1 } });
    expect(await store.get(tenant, a.fact.id)).toEqual(a.fact);
    const keyed = await store.upsert(tenant, { key: 'k', text: 'Same words' });
    expect(await store.upsert(tenant, { key: 'k', text: 'Same   words ' })).toEqual({
      fact: keyed.fact,
      deduplicated: true,
    });
    expect(await chainOf(tenant, keyed.fact.id)).toHaveLength(1);
  });

  it('makes new citations and pin toggles new versions of the same value, each id naming one content', async () => {
    const tenant = uniqueId('t');
    const { fact } = await store.upsert(tenant, { key: 'lang', text: 'Answer in French', pinned: true });
    expect(await texts(tenant, query('unrelated words'))).toEqual(['Answer in French']);
    const cited = await store.upsert(tenant, {
      key: 'lang',
      text: 'Answer in French',
      citations: [{ seq: 2 }],
    });
    expect(cited).toMatchObject({
      deduplicated: true,
      fact: { version: 2, supersedes: fact.id, pinned: true, citations: [{ seq: 2 }] },
    });
    const unpinned = await store.upsert(tenant, { key: 'lang', text: 'Answer in French', pinned: false });
    expect(unpinned).toMatchObject({ deduplicated: true, fact: { version: 3, pinned: false } });
    expect(await texts(tenant, query('unrelated words'))).toEqual([]);
    expect(await pinnedOf(tenant)).toEqual([]);
    expect(await texts(tenant, query('answer french'))).toEqual(['Answer in French']);
    const chain = await chainOf(tenant, fact.id);
    expectLinear(chain);
    expect(chain.map((f) => [f.pinned, f.citations])).toEqual([
      [false, [{ seq: 2 }]],
      [true, [{ seq: 2 }]],
      [true, []],
    ]);
    expect(await store.get(tenant, fact.id)).toEqual({
      ...fact,
      supersededBy: cited.fact.id,
      validUntil: cited.fact.createdAt,
    });
  });

  it('moves the pin to the superseding version: the old one leaves the pinned list in the same write', async () => {
    const tenant = uniqueId('t');
    const old = await store.upsert(tenant, { key: 'tone', text: 'Always answer formally', pinned: true });
    const next = await store.upsert(tenant, { key: 'tone', text: 'Always answer casually' });
    expect(next.fact.pinned).toBe(true);
    expect((await pinnedOf(tenant)).map((p) => p.factId)).toEqual([next.fact.id]);
    expect(await texts(tenant, query('nothing matches this'))).toEqual(['Always answer casually']);
    expect((await store.get(tenant, old.fact.id))?.supersededBy).toBe(next.fact.id);
  });

  it('never serves a superseded version, even through a posting read before it was superseded', async () => {
    const tenant = uniqueId('t');
    const old = await store.upsert(tenant, { key: 'city', text: 'Customer lives in Lisbon' });
    await store.upsert(tenant, { key: 'city', text: 'Customer moved to Porto' });
    // What a search that read the postings just before the supersession would hold.
    const atMs = Date.parse(old.fact.updatedAt);
    await dynamo().send(
      new PutCommand({
        TableName: table,
        Item: {
          ...keys.factPosting(tenant, scopeOf(), 'lisbon', atMs, old.fact.id),
          factId: old.fact.id,
          tf: 1,
          len: 3,
          at: atMs,
          pinned: true,
        },
      }),
    );
    expect(await texts(tenant, query('customer lisbon'))).toEqual(['Customer moved to Porto']);
    expect(await texts(tenant, query('lisbon'))).toEqual([]);
  });

  it('serializes 8 concurrent writers of one key into one linear chain: no version lost, one current', async () => {
    const tenant = uniqueId('t');
    const userId = uniqueId('u');
    const written = Array.from({ length: 8 }, (_, i) => `Plan is tier ${i + 1}`);
    const results = await Promise.all(
      written.map((text) => store.upsert(tenant, { userId, key: 'plan', text })),
    );
    expect(new Set(results.map((r) => r.fact.id)).size).toBe(8);
    expect(results.every((r) => !r.deduplicated)).toBe(true);

    const chain = await chainOf(tenant, results[0]!.fact.id, 3);
    expect(chain).toHaveLength(8);
    expectLinear(chain);
    expect(chain.map((f) => f.text).sort()).toEqual([...written].sort());
    // Each writer's answer is the version it wrote, as stored then.
    for (const { fact } of results) expect(chain.find((f) => f.id === fact.id)?.text).toBe(fact.text);
    const found = await store.search(tenant, query('plan tier', { userId }));
    expect(found.map((s) => s.fact.id)).toEqual([chain[0]!.id]);
    expect((await postingsOf(tenant, 'plan', userId)).map((p) => p.factId)).toEqual([chain[0]!.id]);
  });

  it('lets concurrent restatements of one value write it once', async () => {
    const tenant = uniqueId('t');
    const results = await Promise.all(
      [1, 2, 3, 4].map(() => store.upsert(tenant, { key: 'tz', text: 'Timezone is CET' })),
    );
    expect(new Set(results.map((r) => r.fact.id))).toEqual(new Set([results[0]!.fact.id]));
    expect(results.filter((r) => !r.deduplicated)).toHaveLength(1);
    expect(await chainOf(tenant, results[0]!.fact.id)).toHaveLength(1);
  });

  it('pages a long history newest first, from any version of it; null for an unknown id', async () => {
    const tenant = uniqueId('t');
    const ids: string[] = [];
    for (let i = 1; i <= 25; i++)
      ids.push((await store.upsert(tenant, { key: 'n', text: `Counter is ${i}` })).fact.id);
    const p1 = await store.history(tenant, ids[3]!, { limit: 10 });
    expect(p1?.facts.map((f) => f.version)).toEqual([25, 24, 23, 22, 21, 20, 19, 18, 17, 16]);
    expect(p1?.next).toBe(16);
    const p2 = await store.history(tenant, ids[24]!, { limit: 10, before: 16 });
    expect(p2?.facts.map((f) => f.version)).toEqual([15, 14, 13, 12, 11, 10, 9, 8, 7, 6]);
    const p3 = await store.history(tenant, ids[0]!, { limit: 10, before: p2!.next });
    expect(p3).toEqual({ facts: expect.any(Array) });
    expect(p3!.facts.map((f) => f.text)).toEqual([5, 4, 3, 2, 1].map((i) => `Counter is ${i}`));
    expect((await store.history(tenant, ids[0]!, { limit: 5, before: 1000 }))?.facts[0]?.version).toBe(25);
    expect(await store.history(tenant, ids[0]!, { limit: 5, before: 1 })).toEqual({ facts: [] });
    expect(await store.history(tenant, 'f-unknown-v1', { limit: 5 })).toBeNull();
    expect(await store.history(uniqueId('t'), ids[0]!, { limit: 5 })).toBeNull();
    expectLinear(await chainOf(tenant, ids[0]!, 7));
  });

  it("lists every item of a scope's facts: deleting them leaves nothing of the scope, and other scopes whole", async () => {
    const tenant = uniqueId('t');
    const [u1, u2] = [uniqueId('u'), uniqueId('u')];
    const versions: string[] = [];
    for (const text of ['Seat count is 5', 'Seat count is 7', 'Seat count is 9'])
      versions.push((await store.upsert(tenant, { userId: u1, key: 'seats', text })).fact.id);
    versions.push(
      (await store.upsert(tenant, { userId: u1, text: 'Prefers short answers', pinned: true })).fact.id,
    );
    for (let i = 0; i < 120; i++)
      await store.upsert(tenant, { userId: u1, key: `k${i}`, text: `Filler fact ${i}` });
    const kept = await store.upsert(tenant, {
      userId: u2,
      key: 'seats',
      text: 'Seat count is 3',
      pinned: true,
    });

    const found = await drain(store.scopeItemKeys(tenant, scopeOf(u1)));
    expect(new Set(found.map((k) => `${k.pk}|${k.sk}`)).size).toBe(found.length);
    const versionsListed: Fact[] = [];
    for await (const page of store.scopeFacts(tenant, scopeOf(u1))) versionsListed.push(...page);
    expect(versionsListed).toHaveLength(124);
    expect(versionsListed.filter((f) => f.supersededBy)).toHaveLength(2);
    await deleteAll(found);

    for (const id of versions) expect(await store.get(tenant, id)).toBeNull();
    expect(await partition(keys.factScope(tenant, scopeOf(u1)).pk)).toEqual([]);
    expect(await pinnedOf(tenant, u1)).toEqual([]);
    for (const term of ['seat', 'count', 'prefer', 'short', 'answer', 'filler', 'fact', '42'])
      expect(await postingsOf(tenant, term, u1)).toEqual([]);
    expect(await texts(tenant, query('seat count short answers filler', { userId: u1 }))).toEqual([]);
    expect(await texts(tenant, query('seat count', { userId: u2 }))).toEqual(['Seat count is 3']);
    expect(await chainOf(tenant, kept.fact.id)).toEqual([kept.fact]);
  });

  it("lists one fact's chain: deleting it leaves the scope's other facts whole", async () => {
    const tenant = uniqueId('t');
    const a1 = await store.upsert(tenant, { key: 'a', text: 'Alpha value one', pinned: true });
    const a2 = await store.upsert(tenant, { key: 'a', text: 'Alpha value two' });
    const b = await store.upsert(tenant, { key: 'b', text: 'Beta value one' });
    const at = await store.locate(tenant, a1.fact.id);
    expect(at).toEqual({ scope: scopeOf(), lineageId: lineageIdOf({ key: 'a', text: '' }) });
    expect(await store.locate(tenant, 'f-nothing-v1')).toBeNull();
    await deleteAll(await drain(store.chainItemKeys(tenant, at!)));

    expect(await store.get(tenant, a1.fact.id)).toBeNull();
    expect(await store.get(tenant, a2.fact.id)).toBeNull();
    expect(await store.current(tenant, { key: 'a', text: '' })).toBeNull();
    expect(await pinnedOf(tenant)).toEqual([]);
    expect(await postingsOf(tenant, 'alpha')).toEqual([]);
    expect((await postingsOf(tenant, 'valu')).map((p) => p.factId)).toEqual([b.fact.id]);
    expect(await chainOf(tenant, b.fact.id)).toEqual([b.fact]);
    expect((await partition(keys.factScope(tenant, scopeOf()).pk)).map((i) => i.sk).sort()).toEqual(
      [
        `${lineageIdOf({ key: 'b', text: '' })}#HEAD`,
        keys.factVersion(tenant, '*', lineageIdOf({ key: 'b', text: '' }), 1).sk,
      ].sort(),
    );
    // Written again after its deletion, the key starts a new chain.
    const again = await store.upsert(tenant, { key: 'a', text: 'Alpha value three' });
    expect(again.fact).toMatchObject({ version: 1, id: a1.fact.id });
    expect(again.fact).not.toHaveProperty('supersedes');
  });

  it("replaces a version's citations in place (a deletion's scrub): the current one, or one in history", async () => {
    const tenant = uniqueId('t');
    const v1 = await store.upsert(tenant, {
      key: 'c',
      text: 'Colour is red',
      citations: [{ sessionId: 'a' }],
    });
    const v2 = await store.upsert(tenant, {
      key: 'c',
      text: 'Colour is blue',
      citations: [{ sessionId: 'a' }, { sessionId: 'b' }],
    });
    expect(await store.replaceCitations(tenant, v2.fact.id, [{ sessionId: 'b' }])).toBe(true);
    expect(await store.replaceCitations(tenant, v1.fact.id, [])).toBe(true);
    expect(await store.replaceCitations(tenant, 'f-none-v1', [])).toBe(false);
    expect((await store.search(tenant, query('colour')))[0]?.fact).toEqual({
      ...v2.fact,
      citations: [{ sessionId: 'b' }],
    });
    expect((await chainOf(tenant, v1.fact.id)).map((f) => f.citations)).toEqual([[{ sessionId: 'b' }], []]);
  });

  it('makes an upsert that read citations before a scrub retry on the scrubbed ones', async () => {
    const tenant = uniqueId('t');
    const { fact } = await store.upsert(tenant, {
      key: 'p',
      text: 'Plan is gold',
      citations: [{ sessionId: 'gone' }, { sessionId: 'kept' }],
    });
    // The scrub lands between the upsert's reads and its transaction.
    let scrubbed = false;
    const interleaved = {
      send: async (command: { constructor: { name: string } }) => {
        if (command.constructor.name === 'TransactWriteCommand' && !scrubbed) {
          scrubbed = true;
          await store.replaceCitations(tenant, fact.id, [{ sessionId: 'kept' }]);
        }
        return dynamo().send(command as never);
      },
    } as unknown as DynamoDBDocumentClient;
    const racing = new FactStore(table, interleaved);
    const next = await racing.upsert(tenant, {
      key: 'p',
      text: 'Plan is gold',
      citations: [{ sessionId: 'new' }],
    });
    expect(scrubbed).toBe(true);
    expect(next.fact).toMatchObject({ version: 2, citations: [{ sessionId: 'kept' }, { sessionId: 'new' }] });
    const chain = await chainOf(tenant, fact.id);
    expect(chain.map((f) => f.citations)).toEqual([
      [{ sessionId: 'kept' }, { sessionId: 'new' }],
      [{ sessionId: 'kept' }],
    ]);
  });

  it('refuses (503) to write over a head whose current version is gone (a deletion under way), writing nothing', async () => {
    const tenant = uniqueId('t');
    const { fact } = await store.upsert(tenant, { key: 'd', text: 'Half deleted' });
    await dynamo().send(new DeleteCommand({ TableName: table, Key: keys.fact(tenant, fact.id) }));
    await expect(
      store.upsert(tenant, { key: 'd', text: 'Written during the deletion' }),
    ).rejects.toMatchObject({
      status: 503,
      code: 'store_unavailable',
    });
    expect(await store.get(tenant, versionIdOf(lineageIdOf({ key: 'd', text: '' }), 2))).toBeNull();
    expect(await postingsOf(tenant, 'deletion')).toEqual([]);
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

  it('reads a small scope in one Query (an empty one too), and finds a fact written after it looked', async () => {
    const tenant = uniqueId('t');
    const { counted, queries } = countingQueries();
    const q = query('invoice currency euro', { userId: 'u1' });
    const whole = [keys.factScope(tenant, '*').pk, keys.factScope(tenant, scopeOf('u1')).pk];
    // Two scopes (tenant-wide and u1), three terms: one read each instead of four.
    expect(await counted.search(tenant, q)).toEqual([]);
    expect(queries).toEqual(whole);

    // Nothing is remembered of a small scope: the same store finds what was written since, and a
    // scope with a few facts is still one read (no postings, no pinned list).
    await store.upsert(tenant, { userId: 'u1', text: 'Invoices for u1 are in euro' });
    await store.upsert(tenant, { userId: 'u1', text: 'Always answer u1 in German', pinned: true });
    await store.upsert(tenant, { userId: 'u1', text: 'u1 support tier is gold' });
    queries.length = 0;
    expect((await counted.search(tenant, q)).map((s) => s.fact.text)).toEqual([
      'Always answer u1 in German',
      'Invoices for u1 are in euro',
    ]);
    expect(queries).toEqual(whole);
  });

  it('reads a scope too large for one Query by its postings, ranked the same, and remembers it is large', async () => {
    const tenant = uniqueId('t');
    // Each fact is two items of the scope's lineages partition (head and version): this fills one page.
    const facts = factStoreLimits.wholeScopeItems / 2;
    for (let i = 0; i < facts; i++) {
      await store.upsert(tenant, {
        userId: 'u1',
        key: `k${i}`,
        text: i % 10 === 0 ? `Invoice ${i} for u1 is in euro` : `Filler fact number ${i} about the weather`,
        pinned: i === 7,
      });
    }
    const { counted, queries } = countingQueries();
    const q = { ...query('invoice currency euro', { userId: 'u1' }), topK: 4 };
    const found = (await counted.search(tenant, q)).map((s) => s.fact.text);
    expect(found).toEqual([
      'Filler fact number 7 about the weather',
      'Invoice 40 for u1 is in euro',
      'Invoice 30 for u1 is in euro',
      'Invoice 20 for u1 is in euro',
    ]);
    const u1 = keys.factScope(tenant, scopeOf('u1')).pk;
    expect(queries.filter((pk) => pk === u1)).toHaveLength(1);
    expect(queries.filter((pk) => pk.includes('#TERM#'))).toHaveLength(3);
    expect(queries.filter((pk) => pk === keys.pinnedFacts(tenant, scopeOf('u1')).pk)).toHaveLength(1);

    // Next time straight to the postings; the tenant-wide scope (small: empty) is read whole again.
    queries.length = 0;
    expect((await counted.search(tenant, q)).map((s) => s.fact.text)).toEqual(found);
    expect(queries.filter((pk) => pk === u1)).toEqual([]);
    expect(queries.filter((pk) => pk === keys.factScope(tenant, '*').pk)).toHaveLength(1);
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
    expect(await chainOf(a, fact.id)).toEqual([fact]);
  });

  it("keeps a session's facts (no user) to that session: never the tenant's, never another user's", async () => {
    const tenant = uniqueId('t');
    await store.upsert(tenant, { sessionId: 's1', key: 'user:name', text: 'User: My name is Priya Raman.' });
    const ask = query('what is my name');
    expect(await texts(tenant, { ...ask, sessionId: 's1' })).toEqual(['User: My name is Priya Raman.']);
    expect(await texts(tenant, { ...ask, sessionId: 's2', userId: 'u2' })).toEqual([]);
    expect(await texts(tenant, ask)).toEqual([]);
  });

  it('keeps a head and its version in step: the head names the current version', async () => {
    const tenant = uniqueId('t');
    await store.upsert(tenant, { key: 'h', text: 'First' });
    const { fact } = await store.upsert(tenant, { key: 'h', text: 'Second' });
    const head = await dynamo().send(
      new GetCommand({
        TableName: table,
        Key: keys.factHead(tenant, scopeOf(), lineageIdOf({ key: 'h', text: '' })),
      }),
    );
    expect(head.Item).toMatchObject({ factId: fact.id, version: 2, rev: 2 });
  });
});
