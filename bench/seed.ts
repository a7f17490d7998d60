import { TransactWriteCommand, type TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { planUpsert } from '../lambdas/domain/fact-upsert';
import type { StructuredSummary } from '../lambdas/domain/facts';
import { appendTurns, applyEvent, type SessionEvent, type TurnInput } from '../lambdas/domain/session';
import { tiktokenCounter } from '../lambdas/domain/tokens';
import { dynamo } from '../lambdas/stores/clients';
import { FactStore } from '../lambdas/stores/fact-store';
import { PolicyStore } from '../lambdas/stores/policy-store';
import { ProfileStore } from '../lambdas/stores/profile-store';
import { SessionStore } from '../lambdas/stores/session-store';

/** The benchmark's state: one session of many turns (with a summary), many facts, one profile, one policy. */

const WORDS = (
  'order parcel refund courier delivery invoice account password plan upgrade discount warranty ' +
  'return label address payment card bank transfer delay warehouse stock size colour exchange ' +
  'subscription renewal cancel support ticket agent manager priority weekend holiday tracking ' +
  'quick late broken missing damaged urgent premium basic annual monthly local express standard ' +
  'fragile heavy large small blue green digital physical partial full verify confirm replace ' +
  'reset unlock ship pack scan print email phone chat branch region country customs tax fee ' +
  'coupon voucher gift loyalty points balance credit debit receipt statement contract policy ' +
  'battery charger screen cable laptop tablet printer router camera speaker headset keyboard'
).split(' ');

/** Deterministic filler text, so every run benchmarks the same state. */
function text(seed: number, words: number): string {
  let a = seed * 2654435761;
  const out: string[] = [];
  for (let i = 0; i < words; i++) {
    a = (a * 1103515245 + 12345) >>> 0;
    out.push(WORDS[a % WORDS.length]!);
  }
  return `${out.join(' ')}.`;
}

export interface Seeded {
  tenantId: string;
  sessionId: string;
  userId: string;
  route: string;
  turns: number;
  facts: number;
  historyTokens: number;
}

async function inBatches<T>(items: T[], width: number, fn: (item: T) => Promise<unknown>) {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(fn));
}

export async function seed(opts: { turns: number; facts: number }): Promise<Seeded> {
  const run = Date.now().toString(36);
  const s: Seeded = {
    tenantId: `bench-${run}`,
    sessionId: `s-${run}`,
    userId: `u-${run}`,
    route: `bench-${run}`,
    turns: opts.turns,
    facts: opts.facts,
    historyTokens: 0,
  };
  const ref = { tenantId: s.tenantId, sessionId: s.sessionId };
  const sessions = new SessionStore();
  for (let start = 0; start < opts.turns; start += 25) {
    const turns = Array.from({ length: Math.min(25, opts.turns - start) }, (_, k) => {
      const n = start + k;
      const t: TurnInput = { role: n % 2 ? 'assistant' : 'user', content: text(n + 1, 40 + (n % 7) * 15) };
      return { ...t, tokens: tiktokenCounter.count(t.content) };
    });
    s.historyTokens += turns.reduce((x, t) => x + t.tokens, 0);
    await sessions.commit(ref, (prev) =>
      appendTurns(prev, ref, { turns, at: new Date().toISOString(), ttlSeconds: 3600 }),
    );
  }
  await sessions.commit(ref, (prev) => {
    const facts = Array.from({ length: 12 }, (_, i) => {
      const t = text(10_000 + i, 18);
      return {
        key: `topic-${i}`,
        text: t,
        citations: [{ seq: i * 10 + 1 }],
        recency: 1 - i / 12,
        tokens: tiktokenCounter.count(t),
      };
    });
    const short = text(20_000, 40);
    const summary: StructuredSummary = {
      facts,
      short: { text: short, tokens: tiktokenCounter.count(short) },
      tokens: facts.reduce((n, f) => n + f.tokens, 0),
      watermarkSeq: prev!.lastSeq - 20,
      engine: 'extractive',
      updatedAt: new Date().toISOString(),
    };
    const event: SessionEvent = {
      seq: prev!.lastSeq + 1,
      type: 'summary_updated',
      at: summary.updatedAt,
      data: { version: prev!.version, expiresAt: prev!.expiresAt, summary, unsummarized: 0 },
    };
    return { state: applyEvent(prev, ref, event), events: [event] };
  });

  await seedFacts(s, opts);
  await new ProfileStore().put(s.tenantId, s.userId, 0, {
    plan: 'business',
    locale: 'en-GB',
    timezone: 'Europe/London',
    tier: 'gold',
    preferredChannel: 'email',
    devices: ['ios', 'web'],
  });
  await new PolicyStore().publish(s.route, {
    systemPrompt: 'You are a support agent. Answer from the facts and the conversation; cite fact ids.',
    profile: { allow: ['plan', 'locale', 'tier', 'preferredChannel'] },
  });
  return s;
}

/**
 * Facts go in through the FactStore's own plan and transaction, but backdated an hour apart, so
 * recency ranking has something to order (FactStore.upsert would stamp them all now).
 */
async function seedFacts(s: Seeded, opts: { turns: number; facts: number }) {
  const store = new FactStore() as unknown as {
    writes(tenantId: string, prev: null, fact: unknown): TransactWriteCommandInput['TransactItems'];
  };
  const facts = Array.from({ length: opts.facts }, (_, i) => {
    const input = {
      text: text(50_000 + i, 8 + (i % 5) * 3),
      userId: i % 3 === 0 ? s.userId : undefined,
      pinned: i % 97 === 0,
      citations: [{ sessionId: s.sessionId, seq: (i % opts.turns) + 1 }],
    };
    return planUpsert(null, input, tiktokenCounter.count(input.text), new Date(Date.now() - i * 3_600_000))
      .fact;
  });
  // The filler text repeats now and then; a repeat is the same fact (same id), stored once.
  const unique = [...new Map(facts.map((f) => [f.id, f])).values()];
  await inBatches(unique, 4, (fact) =>
    dynamo().send(new TransactWriteCommand({ TransactItems: store.writes(s.tenantId, null, fact) })),
  );
}

/** A question in the same vocabulary as the facts, so retrieval has hits. */
export const questionOf = (i: number) => `What about my ${text(90_000 + i, 3)}`;
