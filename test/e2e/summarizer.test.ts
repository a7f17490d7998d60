import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { env } from '../../lambdas/config';
import type { StructuredSummary } from '../../lambdas/domain/facts';
import { defaultPolicy } from '../../lambdas/domain/policy';
import type { SessionEvent } from '../../lambdas/domain/session';
import { sqsClient } from '../../lambdas/stores/clients';
import { PolicyStore } from '../../lambdas/stores/policy-store';
import { PLANTED, type PlantedFact, type ScriptedTurn, scriptedConversation } from '../support/conversation';
import { uniqueId } from '../support/ids';
import { type Started, startProcess } from '../support/start-process';

/**
 * The whole path: turns appended over HTTP → the append's trigger queues a job on the FIFO queue →
 * the local runtime's poller runs the summarizer handler → the session's summary, read back over HTTP.
 */

const tenant = { name: uniqueId('sum'), key: `cp_${uniqueId('k')}` };
const route = uniqueId('summ').toLowerCase();
const caps = { triggerTokens: 400, maxTokens: 250, shortMaxTokens: 60 };
let runtime: Started;

async function call(path: string, body?: unknown) {
  const res = await fetch(`${runtime.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${tenant.key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: the test reads arbitrary JSON answers.
  return { status: res.status, body: (await res.json()) as any };
}

async function until<T>(probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Appends turns ten at a time, as an app would after each exchange; returns the last version. */
async function appendAll(
  sessionId: string,
  turns: ScriptedTurn[],
  version: number,
  seen: StructuredSummary[],
) {
  for (let i = 0; i < turns.length; i += 10) {
    const res = await call(`/v1/sessions/${sessionId}/turns`, {
      expectedVersion: version,
      route,
      turns: turns.slice(i, i + 10),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    version = res.body.version;
    const summary = (await call(`/v1/sessions/${sessionId}`)).body.summary;
    if (summary) seen.push(summary);
  }
  return version;
}

/** Waits until the summary covers `seq` and nothing past the trigger is left unsummarized. */
const summaryCovering = (sessionId: string, seq: number) =>
  until(async () => {
    const s = (await call(`/v1/sessions/${sessionId}`)).body;
    return s.summary?.watermarkSeq >= seq ? (s.summary as StructuredSummary) : undefined;
  });

beforeAll(async () => {
  // `npm start` in its own process, on this run's emulator: its poller runs the summarizer handler.
  runtime = await startProcess({ CONTEXT_PLANE_TENANTS: `${tenant.name}:${tenant.key}` });
  await new PolicyStore().publish(route, { ...defaultPolicy(route), summary: caps });
}, 120_000);
afterAll(async () => {
  if (runtime) expect(await runtime.stop()).toBe(0);
});

describe('summarization end to end', () => {
  it('summarizes a long conversation with citations to the right events, under its cap however long', async () => {
    const sessionId = uniqueId('s');
    const seen: StructuredSummary[] = [];
    const first = scriptedConversation(240);
    let version = await appendAll(sessionId, first, 0, seen);
    const summary = await summaryCovering(sessionId, 200);
    const ratio = async (s: StructuredSummary) => {
      const { tokenCounts } = (await call(`/v1/sessions/${sessionId}`)).body;
      return {
        transcript: tokenCounts.total - tokenCounts.unsummarized,
        ratio: (tokenCounts.total - tokenCounts.unsummarized) / s.tokens,
      };
    };
    const firstRatio = await ratio(summary);

    const survived = PLANTED.filter((p) => summary.facts.some((f) => f.key === p.key));
    expect(survived.map((p) => p.key)).toEqual(PLANTED.map((p) => p.key));
    const events = (await call(`/v1/sessions/${sessionId}/events?after=0&limit=500`)).body
      .events as SessionEvent[];
    for (const p of PLANTED) {
      const fact = summary.facts.find((f) => f.key === p.key)!;
      // Summary events take seqs too, so a turn's seq is not its index: the cited event is the turn itself.
      expect(fact.citations).toEqual([{ seq: expect.any(Number), ref: `msg-${p.index + 1}` }]);
      const cited = events.find((e) => e.seq === fact.citations[0]!.seq);
      expect(cited).toMatchObject({
        type: 'turn_appended',
        data: { turn: { ref: `msg-${p.index + 1}`, content: p.text } },
      });
    }

    // Keep talking: 600 more turns with more facts; the summary keeps to its cap all along.
    const more: PlantedFact[] = Array.from({ length: 30 }, (_, i) => ({
      index: 10 + i * 20,
      text: `Ticket ${1000 + i} is due on day ${i + 1} of the sprint.`,
      key: '',
    }));
    version = await appendAll(sessionId, scriptedConversation(600, more, 'late'), version, seen);
    const last = await summaryCovering(sessionId, 800);
    seen.push(last);
    for (const s of seen) {
      expect(s.tokens).toBeLessThanOrEqual(caps.maxTokens);
      expect(s.short.tokens).toBeLessThanOrEqual(caps.shortMaxTokens);
    }
    // The user's name outranks ticket notes when the cap forces drops.
    expect(last.facts.find((f) => f.key === 'user:name')?.citations).toEqual([{ seq: 5, ref: 'msg-5' }]);
    // Summaries were written while the appends went on: every turn is in the log once, in order.
    const turnRefs: string[] = [];
    for (let after = 0; ; ) {
      const page = (await call(`/v1/sessions/${sessionId}/events?after=${after}&limit=500`)).body;
      for (const e of page.events) if (e.type === 'turn_appended') turnRefs.push(e.data.turn.ref);
      if (page.next === null) break;
      after = page.next;
    }
    expect(turnRefs).toEqual([...first, ...scriptedConversation(600, more, 'late')].map((t) => t.ref));
    const lastRatio = await ratio(last);
    console.log(
      `[summarizer e2e] after 240 turns: transcript=${firstRatio.transcript} summary=${summary.tokens} ` +
        `ratio=${firstRatio.ratio.toFixed(1)} planted=${survived.length}/${PLANTED.length}; ` +
        `after 840 turns: transcript=${lastRatio.transcript} summary=${last.tokens} short=${last.short.tokens} ` +
        `ratio=${lastRatio.ratio.toFixed(1)} facts=${last.facts.length} ` +
        `planted=${PLANTED.filter((p) => last.facts.some((f) => f.key === p.key)).length}/${PLANTED.length}`,
    );

    // The Context Builder puts the summary into the context.
    const context = await call(`/v1/sessions/${sessionId}/context`, { route, input: 'What is my budget?' });
    expect(context.status, JSON.stringify(context.body)).toBe(200);
    const section = context.body.sections.find((s: { source: string }) => s.source === 'summary');
    expect(section.items).toBeGreaterThan(0);
    expect(JSON.stringify(context.body.messages)).toContain('Priya Raman');
  });

  it('sends a message that keeps failing to the dead-letter queue after maxReceiveCount receives', async () => {
    const sqs = sqsClient();
    const queueUrl = env('summaryQueueUrl');
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['RedrivePolicy'] }),
    );
    const redrive = JSON.parse(Attributes!.RedrivePolicy!) as {
      deadLetterTargetArn: string;
      maxReceiveCount: number;
    };
    const dlqUrl = (
      await sqs.send(new GetQueueUrlCommand({ QueueName: redrive.deadLetterTargetArn.split(':').at(-1)! }))
    ).QueueUrl!;
    const poison = `{"poison":"${uniqueId('p')}"`;
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: poison,
        MessageGroupId: uniqueId('g'),
        MessageDeduplicationId: uniqueId('d'),
      }),
    );
    const dead = await until(async () => {
      const out = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: dlqUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
      );
      return out.Messages?.find((m) => m.Body === poison);
    });
    expect(dead.Body).toBe(poison);
    expect(redrive.maxReceiveCount).toBe(5);
  });
});
