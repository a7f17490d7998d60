import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPolicy } from '../../lambdas/domain/policy';
import { postingsOf, userScope } from '../../lambdas/domain/recall';
import { handler as cacheHandler } from '../../lambdas/handlers/cache';
import { handler as contextHandler } from '../../lambdas/handlers/context';
import { deleteRecord, deps as deleterDeps } from '../../lambdas/handlers/deleter';
import { handler as deletionsHandler } from '../../lambdas/handlers/deletions';
import { handler as factsHandler } from '../../lambdas/handlers/facts';
import { handler as profilesHandler } from '../../lambdas/handlers/profiles';
import { handler as sessionsHandler } from '../../lambdas/handlers/sessions';
import { summarizeRecord } from '../../lambdas/handlers/summarizer';
import { deps as toolDeps, handler as toolsHandler } from '../../lambdas/handlers/tools';
import { FactStore } from '../../lambdas/stores/fact-store';
import { PolicyStore } from '../../lambdas/stores/policy-store';
import { RecallStore } from '../../lambdas/stores/recall-store';
import { uniqueId } from '../support/ids';
import { invoke } from '../support/lambda-events';
import { mentioning, ofTenant, type ScannedItem, scanAll } from '../support/table-scan';

/**
 * Issue 11: a user's deletion follows provenance into every table, leaves only its audit event, and
 * touches nothing of another user or tenant; it resumes after a crash at any of its points; writes
 * racing it are either deleted with it or refused. Everything runs through the real handlers against
 * DynamoDB Local; the deletion queue's consumer is invoked in-process (a crash is a thrown fault).
 */

const route = uniqueId('del').toLowerCase();
process.env.CP_DELETION_GRACE_SECONDS = '0';

beforeAll(async () => {
  await new PolicyStore().publish(route, {
    ...defaultPolicy(route),
    summary: { triggerTokens: 20, maxTokens: 400, shortMaxTokens: 60 },
    tools: [{ name: 'lookup', kind: 'http', url: 'http://127.0.0.1:9/lookup', timeoutMs: 1000 }],
  });
  // The tool itself is not what is tested: an in-process one that answers with content of the call.
  toolDeps.runner = {
    run: async (_tool, args) => ({ kind: 'ok', result: { answer: `about ${(args as { q: string }).q}` } }),
  };
});

afterAll(() => {
  deleterDeps.fault = undefined;
});

interface Seeded {
  tenantId: string;
  userId: string;
  sessions: string[];
  /** in every piece of content the user's sessions, facts, profile, tools and cache hold */
  marker: string;
}

const call = (tenantId: string, h: Parameters<typeof invoke>[0], routeKey: string, more: object = {}) =>
  invoke(h, { routeKey, tenantId, ...more });

const append = (tenantId: string, sessionId: string, body: object, key?: string) =>
  call(tenantId, sessionsHandler, 'POST /v1/sessions/{sessionId}/turns', {
    params: { sessionId },
    body: { route, ...body },
    headers: key ? { 'idempotency-key': key } : {},
  });

const conversation = (m: string) => [
  { role: 'user', content: `Hello, my name is Ana ${m}name and I live in ${m}city.`, ref: `${m}-r1` },
  { role: 'assistant', content: `Nice to meet you, Ana ${m}name.` },
  {
    role: 'user',
    content: `I prefer email over phone calls, and my budget for ${m}project is 12,000 euros.`,
  },
  { role: 'assistant', content: `Noted: email, and the ${m}project budget.` },
  { role: 'user', content: `We decided to use PostgreSQL for the ${m}ledger.` },
];

let jobs = 0;
const sqsRecord = (body: unknown): SQSRecord =>
  ({
    messageId: `m-${++jobs}`,
    receiptHandle: 'r',
    body: JSON.stringify(body),
    attributes: { ApproximateReceiveCount: '1', MessageGroupId: 'g' },
  }) as unknown as SQSRecord;

async function summarize(tenantId: string, sessionId: string, userId?: string) {
  const state = await call(tenantId, sessionsHandler, 'GET /v1/sessions/{sessionId}', {
    params: { sessionId },
  });
  await summarizeRecord(
    sqsRecord({
      tenantId,
      sessionId,
      version: state.body.version,
      lastSeq: state.body.lastSeq,
      route,
      ...(userId ? { userId } : {}),
    }),
  );
}

/** A user across three sessions, with everything a session and a user can own. */
async function seedUser(tenantId: string, label: string): Promise<Seeded> {
  const marker = `zq${label}${randomBytes(3).toString('hex')}`;
  const userId = uniqueId('u');
  const sessions = [uniqueId('s'), uniqueId('s'), uniqueId('s')];
  const [s1, s2, s3] = sessions as [string, string, string];
  const turns = conversation(marker);
  // biome-ignore lint/suspicious/noExplicitAny: the handlers' JSON answers
  const ok = (r: { status: number; body: any }) => {
    if (r.status >= 300) throw new Error(`seeding failed: ${r.status} ${JSON.stringify(r.body)}`);
    return r;
  };
  await Promise.all(
    [s1, s2].map(async (s) => {
      ok(await append(tenantId, s, { expectedVersion: 0, turns, userId }, `${s}-k1`));
      ok(await append(tenantId, s, { expectedVersion: 1, turns: turns.slice(0, 2) }, `${s}-k2`));
      await summarize(tenantId, s, userId);
    }),
  );
  // s3 starts without a user (its facts stay in its own scope), and is bound to the user later.
  ok(await append(tenantId, s3, { expectedVersion: 0, turns }));
  await summarize(tenantId, s3);
  ok(await append(tenantId, s3, { expectedVersion: 1, turns: turns.slice(0, 2), userId }));
  await summarize(tenantId, s3, userId);

  const fact = (body: object) => call(tenantId, factsHandler, 'POST /v1/facts', { body });
  ok(
    await fact({
      userId,
      key: 'drink',
      text: `${marker}tea is the favourite drink`,
      citations: [{ sessionId: s1, seq: 1 }],
    }),
  );
  ok(await fact({ userId, key: 'drink', text: `${marker}coffee is the favourite drink`, pinned: true }));
  ok(await fact({ text: `The ${marker}deadline is Friday`, citations: [{ sessionId: s2, seq: 3 }] }));
  ok(
    await call(tenantId, profilesHandler, 'PUT /v1/users/{userId}/profile', {
      params: { userId },
      body: { expectedVersion: 0, attributes: { name: `Ana ${marker}name`, city: `${marker}city` } },
    }),
  );
  ok(
    await call(tenantId, toolsHandler, 'POST /v1/sessions/{sessionId}/tools/{toolName}/invocations', {
      params: { sessionId: s1, toolName: 'lookup' },
      body: { stepIndex: 1, arguments: { q: `${marker}query` }, route },
    }),
  );
  const built = ok(
    await call(tenantId, contextHandler, 'POST /v1/sessions/{sessionId}/context', {
      params: { sessionId: s2 },
      body: { route, input: `Where does ${marker}name live?`, userId },
    }),
  );
  ok(
    await call(tenantId, cacheHandler, 'PUT /v1/cache', {
      body: {
        question: `Where does ${marker}name live?`,
        fingerprint: built.body.fingerprint,
        answer: `In ${marker}city`,
        sessionId: s2,
        sessionStamp: built.body.sessionStamp,
      },
    }),
  );
  return { tenantId, userId, sessions, marker };
}

const requestDeletion = (tenantId: string, userId: string) =>
  call(tenantId, deletionsHandler, 'DELETE /v1/users/{userId}', { params: { userId } });

const status = (tenantId: string, id: string) =>
  call(tenantId, deletionsHandler, 'GET /v1/deletions/{id}', { params: { id } });

/** The deletion queue's consumer, in-process: one delivery of the deletion's message. */
const deliver = (tenantId: string, deletionId: string) => deleteRecord(sqsRecord({ tenantId, deletionId }));

/** Items mentioning the user (ids or content), its tenant's audit partition aside. */
function leftovers(items: ScannedItem[], u: Seeded): string[] {
  const audit = `T#${u.tenantId}#AUDIT`;
  return mentioning(
    items.filter((i) => i.pk !== audit),
    [u.userId, ...u.sessions, u.marker],
  );
}

/** The counts of a complete deletion of a seeded user (the crash runs must end with the same). */
let cleanCounts: Record<string, number> | undefined;

describe('DELETE /v1/users/{userId}', () => {
  it('removes everything of the user from every table, keeps one audit event, and touches no one else', async () => {
    const tenantA = uniqueId('ta');
    const tenantB = uniqueId('tb');
    const [doomed, kept, other] = await Promise.all([
      seedUser(tenantA, 'a'),
      seedUser(tenantA, 'b'),
      seedUser(tenantB, 'c'),
    ]);
    const before = await scanAll();
    // The seed reached every store the deletion must empty.
    const mentions = leftovers(before, doomed).join('\n');
    for (const table of [
      'Sessions',
      'Events',
      'Idempotency',
      'Facts',
      'Profiles',
      'Cache',
      'Recall',
      'Registry',
    ]) {
      expect(mentions, table).toContain(`${table}Table`);
    }

    const accepted = await requestDeletion(tenantA, doomed.userId);
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ kind: 'user', status: 'running' });
    // The same request again is the same deletion.
    expect((await requestDeletion(tenantA, doomed.userId)).body.id).toBe(accepted.body.id);

    await deliver(tenantA, accepted.body.id);
    const done = await status(tenantA, accepted.body.id);
    expect(done.body).toMatchObject({ status: 'done', kind: 'user', sessionsDeleted: 3 });
    for (const store of [
      'sessions',
      'events',
      'idempotency',
      'facts',
      'profiles',
      'cache',
      'recall',
      'registry',
    ]) {
      expect(done.body.counts[store], store).toBeGreaterThan(0);
    }
    cleanCounts = done.body.counts;

    const after = await scanAll();
    expect(leftovers(after, doomed)).toEqual([]);
    // One audit event: ids and counts, no content.
    const audit = after.filter((i) => i.pk === `T#${tenantA}#AUDIT`);
    expect(audit).toHaveLength(1);
    expect(audit[0]!.json).toContain(doomed.userId);
    expect(audit[0]!.json).not.toContain(doomed.marker);
    // Byte for byte: the other user of the tenant, and the other tenant.
    expect(mentioning(after, [kept.userId, ...kept.sessions, kept.marker])).toEqual(
      mentioning(before, [kept.userId, ...kept.sessions, kept.marker]),
    );
    expect(ofTenant(after, tenantB)).toEqual(ofTenant(before, tenantB));
    expect(mentioning(after, [other.marker]).length).toBeGreaterThan(0);

    // Its writes are refused from now on (404), as for an unknown session.
    const late = await append(tenantA, doomed.sessions[0]!, { expectedVersion: 0, turns: conversation('x') });
    expect(late.status).toBe(404);
    const rebind = await append(tenantA, uniqueId('s'), {
      expectedVersion: 0,
      turns: conversation('x'),
      userId: doomed.userId,
    });
    expect(rebind.status).toBe(404);
    const profile = await call(tenantA, profilesHandler, 'PUT /v1/users/{userId}/profile', {
      params: { userId: doomed.userId },
      body: { expectedVersion: 0, attributes: { name: 'x' } },
    });
    expect(profile.status).toBe(404);
    const fact = await call(tenantA, factsHandler, 'POST /v1/facts', {
      body: { userId: doomed.userId, text: 'x' },
    });
    expect(fact.status).toBe(404);
    const citing = await call(tenantA, factsHandler, 'POST /v1/facts', {
      body: { text: 'x', citations: [{ sessionId: doomed.sessions[1]! }] },
    });
    expect(citing.status).toBe(404);
  });
});

describe('a deletion resumed after a crash', () => {
  it('ends in the same state, with the same counts, whatever point it crashed at', async () => {
    expect(cleanCounts).toBeDefined();
    // The points of a run, recorded once.
    const probe = await seedUser(uniqueId('tp'), 'p');
    const points: string[] = [];
    deleterDeps.fault = (p) => void (points.includes(p) || points.push(p));
    const probeId = (await requestDeletion(probe.tenantId, probe.userId)).body.id;
    await deliver(probe.tenantId, probeId);
    // Between steps, and after the first removal transaction of each step, of each pass.
    expect(points).toEqual(
      expect.arrayContaining([
        '1:sessions:cache:chunk',
        '1:sessions:tools:chunk',
        '1:sessions:facts:chunk',
        '1:sessions:recall:chunk',
        '1:sessions:events:chunk',
        '1:sessions:session:chunk',
        '1:facts',
        '2:tombstone',
        'finish',
      ]),
    );

    for (const point of points) {
      const u = await seedUser(uniqueId('tc'), 'c');
      let crashed = false;
      deleterDeps.fault = (p) => {
        if (p === point && !crashed) {
          crashed = true;
          throw new Error(`crash at ${p}`);
        }
      };
      const id = (await requestDeletion(u.tenantId, u.userId)).body.id;
      await expect(deliver(u.tenantId, id), point).rejects.toThrow(`crash at ${point}`);
      await deliver(u.tenantId, id);
      const done = await status(u.tenantId, id);
      expect(done.body.status, point).toBe('done');
      expect(done.body.counts, point).toEqual(cleanCounts);
      expect(done.body.sessionsDeleted, point).toBe(3);
      expect(leftovers(await scanAll(), u), point).toEqual([]);
    }
    deleterDeps.fault = undefined;
  }, 600_000);
});

describe('writes racing a deletion', () => {
  it('appends and context builds during the deletion leave nothing of the user behind', async () => {
    const u = await seedUser(uniqueId('tr'), 'r');
    let running = true;
    const outcomes: number[] = [];
    const racer = async (sessionId: string, bind: boolean) => {
      while (running) {
        const current = await call(u.tenantId, sessionsHandler, 'GET /v1/sessions/{sessionId}', {
          params: { sessionId },
        });
        const r = await append(u.tenantId, sessionId, {
          expectedVersion: current.status === 200 ? current.body.version : 0,
          turns: conversation(u.marker).slice(0, 1),
          ...(bind ? { userId: u.userId } : {}),
        });
        outcomes.push(r.status);
        await call(u.tenantId, contextHandler, 'POST /v1/sessions/{sessionId}/context', {
          params: { sessionId },
          body: { route, input: `what about ${u.marker}city`, userId: u.userId },
        });
      }
    };
    const racers = [
      ...u.sessions.map((s) => racer(s, false)),
      // New sessions naming the user while it is being deleted: bound before its tombstone, or refused.
      racer(uniqueId('s'), true),
      racer(uniqueId('s'), true),
    ];
    await new Promise((r) => setTimeout(r, 100));
    const id = (await requestDeletion(u.tenantId, u.userId)).body.id;
    await deliver(u.tenantId, id);
    running = false;
    await Promise.all(racers);
    expect((await status(u.tenantId, id)).body.status).toBe('done');
    expect(outcomes).toContain(200);
    expect(outcomes).toContain(404);
    expect(outcomes.every((s) => s === 200 || s === 404 || s === 409)).toBe(true);
    expect(leftovers(await scanAll(), u)).toEqual([]);
  }, 120_000);
});

describe('the sweep', () => {
  it('removes what a writer that checked the tombstone just before it was placed wrote after the first pass', async () => {
    const u = await seedUser(uniqueId('tw'), 'w');
    // Long enough that the late writes and scans below fit inside it on a slow emulator (LocalStack).
    const graceMs = 6000;
    process.env.CP_DELETION_GRACE_SECONDS = String(graceMs / 1000);
    try {
      const id = (await requestDeletion(u.tenantId, u.userId)).body.id;
      await deliver(u.tenantId, id);
      const firstPassDone = Date.now();
      expect((await status(u.tenantId, id)).body).toMatchObject({ status: 'sweeping', pass: 2 });
      // Only the running deletion's record names the user now (until it is done).
      const record = `T#${u.tenantId}#DEL#${id}`;
      expect(leftovers(await scanAll(), u).every((i) => i.includes(record))).toBe(true);
      // Late writers, past their checks: a summarizer's fact for the user, the recall indexer's batch.
      await new FactStore().upsert(u.tenantId, {
        userId: u.userId,
        key: 'user:city',
        text: `Lives in ${u.marker}city`,
        citations: [{ sessionId: u.sessions[0]!, seq: 1 }],
      });
      const turn = {
        role: 'user' as const,
        content: `I live in ${u.marker}city`,
        seq: 9,
        tokens: 5,
        at: new Date().toISOString(),
      };
      const { byTerm } = postingsOf(u.sessions[0]!, [turn]);
      await new RecallStore().writePostings(u.tenantId, userScope(u.userId), 8, byTerm);
      expect(leftovers(await scanAll(), u).length).toBeGreaterThan(0);
      // Too early: the job goes back on the queue, delayed; then the sweep.
      await deliver(u.tenantId, id);
      expect(Date.now() - firstPassDone).toBeLessThan(graceMs);
      expect((await status(u.tenantId, id)).body.status).toBe('sweeping');
      await new Promise((r) => setTimeout(r, Math.max(0, firstPassDone + graceMs + 100 - Date.now())));
      await deliver(u.tenantId, id);
      expect((await status(u.tenantId, id)).body.status).toBe('done');
      expect(leftovers(await scanAll(), u)).toEqual([]);
    } finally {
      process.env.CP_DELETION_GRACE_SECONDS = '0';
    }
  });
});

describe('a deletion out of time', () => {
  it('stops at a safe point and carries on in its next delivery', async () => {
    const u = await seedUser(uniqueId('tt'), 't');
    const id = (await requestDeletion(u.tenantId, u.userId)).body.id;
    const noTime = { getRemainingTimeInMillis: () => 1 } as unknown as Context;
    let deliveries = 0;
    while ((await status(u.tenantId, id)).body.status !== 'done' && deliveries < 200) {
      await deleteRecord(sqsRecord({ tenantId: u.tenantId, deletionId: id }), noTime);
      deliveries++;
    }
    expect(deliveries).toBeGreaterThan(10);
    expect((await status(u.tenantId, id)).body).toMatchObject({ status: 'done', sessionsDeleted: 3 });
    expect((await status(u.tenantId, id)).body.counts).toEqual(cleanCounts);
    expect(leftovers(await scanAll(), u)).toEqual([]);
  });
});

describe('DELETE /v1/sessions/{sessionId}', () => {
  it('follows provenance: facts citing only it go, facts citing others too lose its citations, the user keeps the rest', async () => {
    const tenantId = uniqueId('ts');
    const u = await seedUser(tenantId, 's');
    const [s1, s2] = u.sessions as [string, string];
    const shared = await call(tenantId, factsHandler, 'POST /v1/facts', {
      body: {
        text: 'The release train leaves on Monday',
        citations: [
          { sessionId: s1, seq: 1 },
          { sessionId: s2, seq: 2 },
        ],
      },
    });
    // Another user's facts citing it: one on it alone (goes), one backed by another session too (stays).
    const alone = await call(tenantId, factsHandler, 'POST /v1/facts', {
      body: { userId: 'someone-else', text: `About ${u.marker}alone`, citations: [{ sessionId: s1 }] },
    });
    const backed = await call(tenantId, factsHandler, 'POST /v1/facts', {
      body: {
        userId: 'someone-else',
        text: 'Backed twice',
        citations: [{ sessionId: s1 }, { sessionId: 'other-s' }],
      },
    });
    expect([alone.status, backed.status]).toEqual([201, 201]);
    const stats = async () => {
      const item = (await scanAll()).find((i) => i.pk === `T#${tenantId}#R#U:${u.userId}`);
      return JSON.parse(item!.json) as { docs: number; length: number; w: Record<string, number> };
    };
    const before = await stats();
    expect(before.w[s1]).toBeGreaterThan(0);

    const accepted = await call(tenantId, deletionsHandler, 'DELETE /v1/sessions/{sessionId}', {
      params: { sessionId: s1 },
    });
    expect(accepted.status).toBe(202);
    await deliver(tenantId, accepted.body.id);
    const done = await status(tenantId, accepted.body.id);
    expect(done.body).toMatchObject({ status: 'done', kind: 'session', sessionsDeleted: 1 });
    // The shared fact, and the summarizer's facts both sessions stated (their citations were merged).
    expect(done.body.factsUpdated).toBeGreaterThanOrEqual(1);

    const after = await scanAll();
    expect(
      mentioning(
        after.filter((i) => i.pk !== `T#${tenantId}#AUDIT`),
        [s1],
      ),
    ).toEqual([]);
    // The shared fact stays, citing s2 only; the user's other sessions, profile and facts stay.
    const factItem = after.find((i) => i.json.includes(shared.body.fact.id) && i.pk.includes('#FACT#'));
    expect(JSON.parse(factItem!.json).citations).toEqual([{ sessionId: s2, seq: 2 }]);
    expect(mentioning(after, [String(alone.body.fact.id)])).toEqual([]);
    const backedItem = after.find((i) => i.json.includes(backed.body.fact.id) && i.pk.includes('#FACT#'));
    expect(JSON.parse(backedItem!.json).citations).toEqual([{ sessionId: 'other-s' }]);
    expect(
      (await call(tenantId, sessionsHandler, 'GET /v1/sessions/{sessionId}', { params: { sessionId: s2 } }))
        .status,
    ).toBe(200);
    expect(
      (
        await call(tenantId, profilesHandler, 'GET /v1/users/{userId}/profile', {
          params: { userId: u.userId },
        })
      ).status,
    ).toBe(200);
    // The user's recall counters lose exactly the session's share.
    const now = await stats();
    expect(now.w[s1]).toBeUndefined();
    expect(now.w[s2]).toBe(before.w[s2]);
    expect(now.docs).toBeLessThan(before.docs);
    expect(now.docs).toBeGreaterThan(0);
    const built = await call(tenantId, contextHandler, 'POST /v1/sessions/{sessionId}/context', {
      params: { sessionId: s2 },
      body: { route, input: `Where does ${u.marker}name live?`, userId: u.userId },
    });
    expect(built.status).toBe(200);
  });
});

describe('DELETE /v1/sessions/{sessionId} of an expired session', () => {
  it('finds its user from its log (kept longer than its item) and leaves nothing of it', async () => {
    const tenantId = uniqueId('tx');
    const u = await seedUser(tenantId, 'x');
    const s1 = u.sessions[0]!;
    // What DynamoDB's TTL does to an idle session's item; its events live on (30 days by default).
    await DynamoDBDocumentClient.from(new DynamoDBClient({})).send(
      new DeleteCommand({ TableName: process.env.CP_SESSIONS_TABLE!, Key: { pk: `T#${tenantId}#S#${s1}` } }),
    );
    const accepted = await call(tenantId, deletionsHandler, 'DELETE /v1/sessions/{sessionId}', {
      params: { sessionId: s1 },
    });
    expect(accepted.status).toBe(202);
    await deliver(tenantId, accepted.body.id);
    expect((await status(tenantId, accepted.body.id)).body).toMatchObject({
      status: 'done',
      sessionsDeleted: 1,
    });
    const left = (await scanAll()).filter((i) => i.pk !== `T#${tenantId}#AUDIT`);
    expect(mentioning(left, [s1])).toEqual([]);
    expect(mentioning(left, [u.userId]).length).toBeGreaterThan(0);
  });
});

describe('DELETE /v1/facts/{factId}', () => {
  it('deletes the fact and its whole version history, whichever version is named', async () => {
    const tenantId = uniqueId('tf');
    const post = (text: string) =>
      call(tenantId, factsHandler, 'POST /v1/facts', {
        body: { userId: 'u-1', key: 'city', text, pinned: true },
      });
    const first = await post('Lives in Lisbon');
    const second = await post('Lives in Porto');
    expect(second.body.fact.id).not.toBe(first.body.fact.id);
    const lineage = String(first.body.fact.id).replace(/-v\d+$/, '');
    expect(mentioning(await scanAll(), [lineage]).length).toBeGreaterThan(3);

    const accepted = await call(tenantId, deletionsHandler, 'DELETE /v1/facts/{factId}', {
      params: { factId: first.body.fact.id },
    });
    expect(accepted.status).toBe(202);
    const again = await call(tenantId, deletionsHandler, 'DELETE /v1/facts/{factId}', {
      params: { factId: second.body.fact.id },
    });
    expect(again.body.id).toBe(accepted.body.id);
    await deliver(tenantId, accepted.body.id);
    expect((await status(tenantId, accepted.body.id)).body).toMatchObject({ status: 'done', kind: 'fact' });
    const left = (await scanAll()).filter((i) => i.pk !== `T#${tenantId}#AUDIT`);
    expect(mentioning(left, [lineage])).toEqual([]);
    const search = await call(tenantId, factsHandler, 'GET /v1/facts', {
      query: { userId: 'u-1', query: 'lives' },
    });
    expect(search.body.facts).toEqual([]);
  });
});

describe('writes to a session being deleted', () => {
  it('are refused with 404 from the moment its deletion is accepted', async () => {
    const u = await seedUser(uniqueId('tg'), 'g');
    const s2 = u.sessions[1]!;
    const state = await call(u.tenantId, sessionsHandler, 'GET /v1/sessions/{sessionId}', {
      params: { sessionId: s2 },
    });
    const accepted = await call(u.tenantId, deletionsHandler, 'DELETE /v1/sessions/{sessionId}', {
      params: { sessionId: s2 },
    });
    expect(accepted.status).toBe(202);
    // Not run yet: the session is all there, and closed.
    const refused = [
      await append(u.tenantId, s2, { expectedVersion: state.body.version, turns: conversation('late') }),
      await call(u.tenantId, toolsHandler, 'POST /v1/sessions/{sessionId}/tools/{toolName}/invocations', {
        params: { sessionId: s2, toolName: 'lookup' },
        body: { stepIndex: 9, arguments: { q: 'late' }, route },
      }),
      await call(u.tenantId, cacheHandler, 'PUT /v1/cache', {
        body: { question: 'late?', fingerprint: 'fp', answer: 'late', sessionId: s2, sessionStamp: '0.0' },
      }),
      await call(u.tenantId, factsHandler, 'POST /v1/facts', {
        body: { text: 'late', citations: [{ sessionId: s2 }] },
      }),
    ];
    for (const r of refused) {
      expect(r.status).toBe(404);
      expect(r.body.error.details).toMatchObject({ session: s2, deleted: true });
    }
    await deliver(u.tenantId, accepted.body.id);
    expect(
      mentioning(
        (await scanAll()).filter((i) => i.pk !== `T#${u.tenantId}#AUDIT`),
        [s2],
      ),
    ).toEqual([]);
  });
});

describe('deletion errors', () => {
  const tenantId = uniqueId('te');
  it('answers 404 for ids with nothing to delete and unknown deletions', async () => {
    const cases = [
      ['DELETE /v1/sessions/{sessionId}', { sessionId: 'no-such-session' }, 'session'],
      ['DELETE /v1/users/{userId}', { userId: 'no-such-user' }, 'user'],
      ['DELETE /v1/facts/{factId}', { factId: `f-${'0'.repeat(32)}-v1` }, 'fact'],
      ['GET /v1/deletions/{id}', { id: `del-${'0'.repeat(32)}` }, 'deletion'],
    ] as const;
    for (const [routeKey, params, what] of cases) {
      const r = await call(tenantId, deletionsHandler, routeKey, { params });
      expect(r.status, routeKey).toBe(404);
      expect(r.body.error.code).toBe('not_found');
      expect(Object.keys(r.body.error.details)).toContain(what);
    }
  });

  it('answers 400 naming the field for malformed ids', async () => {
    const cases = [
      ['DELETE /v1/sessions/{sessionId}', { sessionId: 'bad#id' }, 'sessionId'],
      ['DELETE /v1/users/{userId}', { userId: 'x'.repeat(129) }, 'userId'],
      ['DELETE /v1/facts/{factId}', { factId: 'not-a-fact' }, 'factId'],
      ['GET /v1/deletions/{id}', { id: 'del-xyz' }, 'id'],
    ] as const;
    for (const [routeKey, params, field] of cases) {
      const r = await call(tenantId, deletionsHandler, routeKey, { params });
      expect(r.status, routeKey).toBe(400);
      expect(r.body.error.details.fields.map((f: { path: string }) => f.path)).toEqual([field]);
    }
  });

  it('keeps tenants apart: another tenant cannot see or repeat a deletion', async () => {
    const owner = uniqueId('to');
    await append(owner, 'sess-1', { expectedVersion: 0, turns: conversation('q') });
    const accepted = await call(owner, deletionsHandler, 'DELETE /v1/sessions/{sessionId}', {
      params: { sessionId: 'sess-1' },
    });
    expect((await status(tenantId, accepted.body.id)).status).toBe(404);
    expect(
      (
        await call(tenantId, deletionsHandler, 'DELETE /v1/sessions/{sessionId}', {
          params: { sessionId: 'sess-1' },
        })
      ).status,
    ).toBe(404);
    await deliver(owner, accepted.body.id);
    expect((await status(owner, accepted.body.id)).body.status).toBe('done');
  });
});
