import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { env } from '../../lambdas/config';
import { indexSession, recallFor, recallLimits, sessionScope } from '../../lambdas/domain/recall';
import { appendTurns, type SessionRef } from '../../lambdas/domain/session';
import { turnsBetween } from '../../lambdas/domain/summarizer/job';
import { dynamo } from '../../lambdas/stores/clients';
import { keys } from '../../lambdas/stores/keys';
import { RecallStore } from '../../lambdas/stores/recall-store';
import { SessionStore } from '../../lambdas/stores/session-store';
import { uniqueId } from '../support/ids';

const recall = new RecallStore();
const sessions = new SessionStore();

async function append(ref: SessionRef, contents: string[], userId?: string) {
  const turns = contents.map((content) => ({ role: 'user' as const, content, tokens: content.length }));
  const prev = await sessions.get(ref);
  return sessions.commit(
    ref,
    (p, logEnd) =>
      appendTurns(p, ref, {
        turns,
        at: new Date().toISOString(),
        ttlSeconds: 3600,
        afterSeq: logEnd,
        userId,
      }),
    { expectedVersion: prev?.version ?? 0 },
  );
}

/** The indexer as the summarizer runs it: the log read through the session store. */
const index = (ref: SessionRef, userId?: string) =>
  indexSession(recall, (after, limit) => turnsBetween(sessions, ref, after, Number.MAX_SAFE_INTEGER, limit), {
    ...ref,
    ...(userId ? { userId } : {}),
  });

const chatter = (n: number) =>
  Array.from({ length: n }, (_, i) => `Ana: the weather and the traffic were fine on day ${i}`);

describe('RecallStore against DynamoDB', () => {
  it('indexes a session, counts each batch once under racing indexers, and recalls from index and tail', async () => {
    const ref = { tenantId: uniqueId('rc'), sessionId: 's1' };
    await append(ref, [
      ...chatter(20),
      'Ben: my grandmother Lucia taught me to bake sourdough',
      ...chatter(10),
    ]);
    // Two indexers at once (a redelivered job): postings are idempotent, counters move once.
    await Promise.all([index(ref), index(ref)]);
    const stats = await recall.stats(ref.tenantId, 'S:s1');
    expect(stats).toEqual({ docs: 31, length: expect.any(Number), watermarks: { s1: 31 } });

    await append(ref, [
      'Ana: did Lucia ever share the sourdough starter?',
      'Ben: yes, it lives in my fridge',
    ]);
    const r = await recallFor(recall, {
      room: 2000,
      ...ref,
      input: 'who taught Ben to bake sourdough bread?',
    });
    expect(r.complete).toBe(true);
    expect(r.hits.slice(0, 2).map((h) => h.seq)).toEqual(expect.arrayContaining([21, 32]));
    expect(r.turns.get('s1#21')?.content).toContain('Lucia');
    expect(r.turns.get('s1#33')?.content).toContain('fridge'); // a neighbour, from the tail

    const postings = await dynamo().send(
      new QueryCommand({
        TableName: env('recallTable'),
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': keys.recallTerm(ref.tenantId, 'S:s1', 'sourdough').pk },
      }),
    );
    // One block for the indexed batch (turns 1-31); the tail's turn 32 is not indexed yet.
    expect(postings.Items?.map((i) => [i.sk, i.n])).toEqual([['s1#0000000000', 1]]);
  });

  it("reads a common term's first blocks and counts the rest without reading them", async () => {
    const tenantId = uniqueId('rc');
    const scope = sessionScope('s1');
    const blocks = recallLimits.blocksPerTerm + 3;
    for (let from = 0; from < blocks; from++) {
      const posting = { sessionId: 's1', seq: from + 1, tf: 1, len: 4, day: 1, q: 0, e: '' };
      await recall.writePostings(
        tenantId,
        scope,
        from,
        new Map([['weather', [posting, { ...posting, seq: from + 2 }]]]),
      );
    }
    const snap = await recall.snapshot(tenantId, scope, ['weather', 'absent']);
    const weather = snap.terms.get('weather')!;
    expect(weather.total).toBe(2 * blocks);
    expect(weather.postings).toHaveLength(2 * recallLimits.blocksPerTerm);
    expect(new Set(weather.postings.map((p) => p.seq)).has(1)).toBe(true);
    expect(snap.terms.get('absent')).toEqual({ postings: [], total: 0 });
  });

  it("keeps tenants and users apart: the user scope holds only that user's sessions", async () => {
    const tenantId = uniqueId('rc');
    const a = { tenantId, sessionId: 'a' };
    const b = { tenantId, sessionId: 'b' };
    await append(a, ['Ana: my passport number ends in 4471', ...chatter(3)], 'u1');
    await append(b, chatter(3), 'u1');
    await index(a, 'u1');
    await index(b, 'u1');
    const input = 'what does my passport number end in?';
    expect(
      (await recallFor(recall, { room: 2000, tenantId, sessionId: 'b', userId: 'u1', input })).hits[0],
    ).toMatchObject({
      sessionId: 'a',
      seq: 1,
    });
    expect(
      (await recallFor(recall, { room: 2000, tenantId, sessionId: 'b', userId: 'u2', input })).hits,
    ).toEqual([]);
    const other = { tenantId: uniqueId('rc'), sessionId: 'b' };
    expect((await recallFor(recall, { room: 2000, ...other, userId: 'u1', input })).hits).toEqual([]);
  });

  it("packs a session scope's index as it is indexed: a build's snapshot answers every term from it, as the blocks do", async () => {
    const ref = { tenantId: uniqueId('rc'), sessionId: 's1' };
    await append(ref, ['Ben: my grandmother Lucia taught me to bake sourdough', ...chatter(12)]);
    await index(ref);
    await append(ref, ['Ana: Lucia moved to Porto last spring', ...chatter(8)]);
    await index(ref);
    const terms = ['lucia', 'sourdough', 'weather', 'porto', 'absent'];
    const packed = await recall.snapshot(ref.tenantId, 'S:s1', terms);
    expect(packed.lookup).toBeDefined();
    expect(packed.stats.watermarks).toEqual({ s1: 22 });
    // With counters given, the blocks are read: the same postings, term by term.
    const blocks = await recall.snapshot(ref.tenantId, 'S:s1', terms, packed.stats);
    expect(blocks.lookup).toBeUndefined();
    expect(packed.terms).toEqual(blocks.terms);
    expect(packed.terms.get('lucia')?.postings.map((p) => p.seq)).toEqual([1, 14]);
    // More terms from the same read, and the log's turns as the events hold them.
    expect(packed.lookup!(['bake']).get('bake')?.total).toBe(1);
    const fetched = await recall.turns(
      ref.tenantId,
      [1, 14, 22].map((seq) => ({ sessionId: 's1', seq })),
    );
    expect([1, 14, 22].map((seq) => packed.turn!(seq))).toEqual(
      [1, 14, 22].map((seq) => fetched.get(`s1#${seq}`)),
    );
    expect(packed.turn!(14)?.content).toContain('Porto');
    expect(packed.turn!(23)).toBeUndefined();

    // A batch whose counters moved without its pack (a run cut short): the pack is stale, never read,
    // and the next batch drops it instead of building on it.
    await append(ref, ['Ben: Porto has the best bakeries', ...chatter(3)]);
    const stats = await recall.stats(ref.tenantId, 'S:s1');
    await recall.advance(ref.tenantId, 'S:s1', 's1', { from: 22, to: 26, docs: 4, length: 20 });
    expect((await recall.snapshot(ref.tenantId, 'S:s1', ['porto'])).lookup).toBeUndefined();
    await append(ref, chatter(2));
    await index(ref);
    expect(stats.watermarks).toEqual({ s1: 22 });
    const pack = await dynamo().send(
      new QueryCommand({
        TableName: env('recallTable'),
        KeyConditionExpression: 'pk = :pk AND sk = :sk',
        ExpressionAttributeValues: { ':pk': keys.recallPack(ref.tenantId, 'S:s1').pk, ':sk': 'PACK' },
      }),
    );
    expect(pack.Items).toEqual([]);
    expect((await recall.snapshot(ref.tenantId, 'S:s1', ['lucia'])).lookup).toBeUndefined();
  });
});
