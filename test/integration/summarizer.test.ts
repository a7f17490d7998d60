import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import type { SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FactInput, FactWriter } from '../../lambdas/domain/facts';
import { defaultPolicy } from '../../lambdas/domain/policy';
import { appendTurns, replay, type SessionEvent, type SessionRef } from '../../lambdas/domain/session';
import type { SummarizerEngine } from '../../lambdas/domain/summarizer/engine';
import { ExtractiveEngine } from '../../lambdas/domain/summarizer/extractive';
import type { SummaryJob } from '../../lambdas/domain/summarizer/job';
import { tiktokenCounter } from '../../lambdas/domain/tokens';
import { deps, handler, selectEngine } from '../../lambdas/handlers/summarizer';
import { BedrockEngine } from '../../lambdas/stores/bedrock-engine';
import { FactStore } from '../../lambdas/stores/fact-store';
import { PolicyStore } from '../../lambdas/stores/policy-store';
import { SessionStore } from '../../lambdas/stores/session-store';
import { lambdaContext } from '../../local/server';
import { PLANTED, scriptedConversation } from '../support/conversation';
import { uniqueId } from '../support/ids';

const sessions = new SessionStore();
const facts = new FactStore();
const extractive = new ExtractiveEngine(tiktokenCounter);
const route = uniqueId('sum').toLowerCase();
const summary = { triggerTokens: 200, maxTokens: 400, shortMaxTokens: 60 };

/** Counts what reaches the facts store, and passes it on. */
const upserts: FactInput[] = [];
const countingFacts: FactWriter = {
  upsert: (tenantId, fact) => {
    upserts.push(fact);
    return facts.upsert(tenantId, fact);
  },
};

/** A test's own engine; null: the one the route's policy picks (the Lambda's composition root). */
let engine: SummarizerEngine | null = null;

beforeAll(async () => {
  await new PolicyStore().publish(route, { ...defaultPolicy(route), summary });
  deps.facts = countingFacts;
  deps.engineFor = (settings) => engine ?? selectEngine(settings);
});

const newRef = (): SessionRef => ({ tenantId: uniqueId('t'), sessionId: uniqueId('s') });

async function appendConversation(ref: SessionRef, turns: ReturnType<typeof scriptedConversation>) {
  let version = (await sessions.get(ref))?.version ?? 0;
  for (let i = 0; i < turns.length; i += 20) {
    const chunk = turns.slice(i, i + 20).map((t) => ({ ...t, tokens: tiktokenCounter.count(t.content) }));
    const state = await sessions.commit(
      ref,
      (prev) => appendTurns(prev, ref, { turns: chunk, at: new Date().toISOString(), ttlSeconds: 3600 }),
      { expectedVersion: version },
    );
    version = state.version;
  }
  return (await sessions.get(ref))!;
}

const jobOf = (ref: SessionRef, version: number, lastSeq: number, jobRoute = route): SummaryJob => ({
  ...ref,
  version,
  lastSeq,
  route: jobRoute,
  userId: `u-${ref.sessionId}`,
});

let ids = 0;
const recordOf = (body: unknown, group = 'g'): SQSRecord => ({
  messageId: `m-${++ids}`,
  receiptHandle: 'r',
  body: typeof body === 'string' ? body : JSON.stringify(body),
  attributes: {
    ApproximateReceiveCount: '1',
    SentTimestamp: '0',
    SenderId: 'test',
    ApproximateFirstReceiveTimestamp: '0',
    MessageGroupId: group,
  },
  messageAttributes: {},
  md5OfBody: '',
  eventSource: 'aws:sqs',
  eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q.fifo',
  awsRegion: 'us-east-1',
});

const run = (...records: SQSRecord[]) => handler({ Records: records }, lambdaContext('summarizer'));

async function allEvents(ref: SessionRef): Promise<SessionEvent[]> {
  const out: SessionEvent[] = [];
  for (let after = 0; ; ) {
    const page = await sessions.listEvents(ref, after, 100);
    out.push(...page.events);
    if (page.next === null) return out;
    after = page.next;
  }
}

describe('the summarizer handler against the emulator', () => {
  it('summarizes by CAS: facts cite the right events, the version stays, unsummarized drops to 0', async () => {
    const ref = newRef();
    const state = await appendConversation(ref, scriptedConversation(110));
    const out = await run(recordOf(jobOf(ref, state.version, state.lastSeq)));
    expect(out.batchItemFailures).toEqual([]);
    const after = (await sessions.get(ref))!;
    expect(after.version).toBe(state.version);
    expect(after.tokenCounts.unsummarized).toBe(0);
    expect(after.summary?.watermarkSeq).toBe(state.lastSeq);
    expect(after.summary!.tokens).toBeLessThanOrEqual(summary.maxTokens);
    for (const p of PLANTED) {
      const fact = after.summary!.facts.find((f) => f.key === p.key);
      expect(fact?.citations, p.key).toEqual([{ seq: p.index + 1, ref: `msg-${p.index + 1}` }]);
    }
    // The summary is an event like any other: the log replays to the same session.
    expect(replay(ref, await allEvents(ref))).toEqual(after);
  });

  it('treats a duplicate delivery as done: one summary event, facts written once', async () => {
    const ref = newRef();
    const state = await appendConversation(ref, scriptedConversation(60));
    const job = jobOf(ref, state.version, state.lastSeq);
    const before = upserts.length;
    await run(recordOf(job));
    const written = upserts.length - before;
    expect(written).toBeGreaterThan(0);
    expect((await run(recordOf(job))).batchItemFailures).toEqual([]);
    expect(upserts.length - before).toBe(written);
    const events = await allEvents(ref);
    expect(events.filter((e) => e.type === 'summary_updated')).toHaveLength(1);
    const userId = `u-${ref.sessionId}`;
    const name = await facts.current(ref.tenantId, { userId, key: 'user:name', text: '' });
    expect(name).toMatchObject({
      version: 1,
      text: 'User: My name is Priya Raman.',
      citations: [{ sessionId: ref.sessionId, seq: 5, ref: 'msg-5' }],
    });
  });

  it('loses nothing when a turn is appended during summarization: it stays after the watermark, unsummarized', async () => {
    const ref = newRef();
    const state = await appendConversation(ref, scriptedConversation(60));
    const late = { role: 'user' as const, content: 'My budget is now 15,000 euros.', ref: 'late-1' };
    const lateTokens = tiktokenCounter.count(late.content);
    engine = {
      name: 'extractive-with-a-concurrent-append',
      async summarize(input) {
        await sessions.commit(
          ref,
          (prev) =>
            appendTurns(prev, ref, {
              turns: [{ ...late, tokens: lateTokens }],
              at: new Date().toISOString(),
              ttlSeconds: 3600,
            }),
          { expectedVersion: state.version },
        );
        return extractive.summarize(input);
      },
    };
    try {
      expect((await run(recordOf(jobOf(ref, state.version, state.lastSeq)))).batchItemFailures).toEqual([]);
    } finally {
      engine = null;
    }
    const after = (await sessions.get(ref))!;
    expect(after.version).toBe(state.version + 1);
    expect(after.summary?.watermarkSeq).toBe(state.lastSeq);
    expect(after.recentTurns.at(-1)).toMatchObject({ content: late.content, seq: state.lastSeq + 1 });
    expect(after.tokenCounts.unsummarized).toBe(lateTokens);
    expect(after.tokenCounts.total).toBe(state.tokenCounts.total + lateTokens);
    const types = (await allEvents(ref)).slice(-2).map((e) => `${e.seq}:${e.type}`);
    expect(types).toEqual([`${state.lastSeq + 1}:turn_appended`, `${state.lastSeq + 2}:summary_updated`]);
    expect(replay(ref, await allEvents(ref))).toEqual(after);
  });

  it('supersedes a durable fact when a later job hears a new value: one current, the old one history', async () => {
    const ref = newRef();
    const userId = `u-${ref.sessionId}`;
    const first = await appendConversation(ref, scriptedConversation(60));
    await run(recordOf(jobOf(ref, first.version, first.lastSeq)));
    const before = await facts.current(ref.tenantId, { userId, key: 'user:budget', text: '' });
    expect(before).toMatchObject({ version: 1, text: expect.stringContaining('12,000') });
    const changed = [{ index: 10, text: 'My budget is now 15,000 euros.', key: 'user:budget' }];
    const second = await appendConversation(ref, scriptedConversation(60, changed, 'more'));
    await run(recordOf(jobOf(ref, second.version, second.lastSeq)));

    const now = await facts.current(ref.tenantId, { userId, key: 'user:budget', text: '' });
    expect(now).toMatchObject({
      version: 2,
      supersedes: before!.id,
      text: expect.stringContaining('15,000'),
      citations: [expect.objectContaining({ sessionId: ref.sessionId, ref: 'more-11' })],
    });
    expect((await facts.history(ref.tenantId, before!.id, { limit: 10 }))?.facts).toEqual([
      now,
      { ...before, supersededBy: now!.id, validUntil: now!.createdAt },
    ]);
    const found = await facts.search(ref.tenantId, {
      userId,
      query: 'what is my budget',
      topK: 10,
      halfLifeDays: 30,
      pinnedBoost: 2,
      minScore: 0,
      now: new Date(),
    });
    expect(found.map((f) => f.fact.text).filter((t) => t.includes('budget'))).toEqual([now!.text]);
  });

  it('skips a stale job whose turns a newer summary already covers', async () => {
    const ref = newRef();
    const first = await appendConversation(ref, scriptedConversation(60));
    const second = await appendConversation(ref, scriptedConversation(60, [], 'more'));
    await run(recordOf(jobOf(ref, second.version, second.lastSeq)));
    await run(recordOf(jobOf(ref, first.version, first.lastSeq)));
    expect((await allEvents(ref)).filter((e) => e.type === 'summary_updated')).toHaveLength(1);
  });

  it('reports a poison record as failed, with the rest of its group, but not other sessions', async () => {
    const ref = newRef();
    const state = await appendConversation(ref, scriptedConversation(60));
    const poison = recordOf('{not json', 'group-a');
    const sameGroup = recordOf({ ...jobOf(newRef(), 1, 1) }, 'group-a');
    const other = recordOf(jobOf(ref, state.version, state.lastSeq), 'group-b');
    const out = await run(poison, sameGroup, other);
    expect(out.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(
      [poison.messageId, sameGroup.messageId].sort(),
    );
    expect((await sessions.get(ref))?.summary?.watermarkSeq).toBe(state.lastSeq);
  });
});

describe('the Bedrock engine against a local Converse stand-in', () => {
  const modelId = 'anthropic.claude-3-haiku-20240307-v1:0';
  const bedrockRoute = uniqueId('bedrock').toLowerCase();
  // The SDK talks HTTP/2 to Bedrock Runtime: the stand-in is a cleartext HTTP/2 server.
  let server: http2.Http2Server;
  let client: BedrockRuntimeClient;
  let answer = '';
  const requests: { path: string; body: { messages: { content: { text: string }[] }[] } }[] = [];

  beforeAll(async () => {
    server = http2.createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        requests.push({ path: req.url ?? '', body: JSON.parse(raw) });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            output: { message: { role: 'assistant', content: [{ text: answer }] } },
            stopReason: 'end_turn',
            usage: { inputTokens: 100, outputTokens: 20, totalTokens: 120 },
            metrics: { latencyMs: 5 },
          }),
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // The Lambda's own client (created on first use) finds the stand-in the way it would find LocalStack.
    process.env.AWS_ENDPOINT_URL_BEDROCK_RUNTIME = endpoint;
    await new PolicyStore().publish(bedrockRoute, {
      ...defaultPolicy(bedrockRoute),
      summary: { ...summary, engine: 'bedrock', modelId },
    });
    client = new BedrockRuntimeClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
  });
  afterAll(async () => {
    client.destroy();
    await new Promise((r) => server.close(r));
  });

  it('uses the model answer, validated, with citations of the seqs it named', async () => {
    const ref = newRef();
    const state = await appendConversation(ref, scriptedConversation(30));
    answer = JSON.stringify({
      facts: [{ kind: 'user', subject: 'name', text: 'The user is Priya Raman.', seqs: [5] }],
    });
    engine = new BedrockEngine(modelId, extractive, tiktokenCounter, client);
    try {
      expect((await run(recordOf(jobOf(ref, state.version, state.lastSeq)))).batchItemFailures).toEqual([]);
    } finally {
      engine = null;
    }
    const request = requests.at(-1)!;
    expect(decodeURIComponent(request.path)).toBe(`/model/${modelId}/converse`);
    expect(request.body.messages[0]?.content[0]?.text).toContain(
      '[seq 5] user: Hello again. My name is Priya Raman.',
    );
    const after = (await sessions.get(ref))!;
    expect(after.summary?.engine).toBe(`bedrock:${modelId}`);
    expect(after.summary?.facts).toMatchObject([
      { key: 'user:name', text: 'The user is Priya Raman.', citations: [{ seq: 5, ref: 'msg-5' }] },
    ]);
  });

  it('falls back to the extractive engine on an invalid answer', async () => {
    const ref = newRef();
    const state = await appendConversation(ref, scriptedConversation(30));
    answer = 'Sure! The user is called Priya and likes email.';
    engine = new BedrockEngine(modelId, extractive, tiktokenCounter, client);
    try {
      expect((await run(recordOf(jobOf(ref, state.version, state.lastSeq)))).batchItemFailures).toEqual([]);
    } finally {
      engine = null;
    }
    const after = (await sessions.get(ref))!;
    expect(after.summary?.engine).toBe('extractive');
    expect(after.summary?.facts.find((f) => f.key === 'user:name')?.citations).toEqual([
      { seq: 5, ref: 'msg-5' },
    ]);
  });

  it('is picked by a policy with engine bedrock and its modelId', async () => {
    const ref = newRef();
    const state = await appendConversation(ref, scriptedConversation(30));
    answer = JSON.stringify({
      facts: [{ kind: 'decision', subject: 'ledger database', text: 'PostgreSQL was chosen.', seqs: [3] }],
    });
    const before = requests.length;
    const out = await run(recordOf(jobOf(ref, state.version, state.lastSeq, bedrockRoute)));
    expect(out.batchItemFailures).toEqual([]);
    expect(requests.length).toBe(before + 1);
    expect((await sessions.get(ref))?.summary).toMatchObject({
      engine: `bedrock:${modelId}`,
      facts: [{ key: 'decision:ledger-database', citations: [{ seq: 3, ref: 'msg-3' }] }],
    });
  });
});
