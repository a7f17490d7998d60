import { describe, expect, it } from 'vitest';
import {
  appendTurns,
  applyEvent,
  type SessionEvent,
  type SessionRef,
  type SessionSummary,
  sessionLimits,
} from '../../lambdas/domain/session';
import { SessionStore } from '../../lambdas/stores/session-store';
import { uniqueId } from '../support/ids';

/** Issue 10, defect 12: the session item stays under DynamoDB's 400 KB, whatever its summary and turns. */
const store = new SessionStore();
const at = () => new Date().toISOString();

/** What the summarizer may write at most: 200 facts of ~330 characters, 5 citations of 256-byte refs. */
function largestSummary(watermarkSeq: number): SessionSummary {
  const facts = Array.from({ length: 200 }, (_, i) => ({
    key: `note:fact-${i}`,
    text: `Fact ${i}: ${'x'.repeat(320)}`,
    citations: Array.from({ length: 5 }, (_, c) => ({ seq: c + 1, ref: `${i}-${c}-`.padEnd(256, 'r') })),
    recency: 1,
    tokens: 80,
  }));
  return {
    facts,
    short: { text: 'short form', tokens: 3 },
    tokens: 16_000,
    watermarkSeq,
    engine: 'extractive',
    updatedAt: at(),
  };
}

const itemBytes = (state: object) => Buffer.byteLength(JSON.stringify(state), 'utf8');

describe('the session item', () => {
  it('accepts appends with the largest summary and 160 KiB of recent turns, within its byte budget', async () => {
    const ref: SessionRef = { tenantId: uniqueId('t'), sessionId: uniqueId('s') };
    const turn = (i: number) => ({
      role: 'user' as const,
      content: `${i} ${'y'.repeat(8 * 1024)}`,
      tokens: 2000,
    });
    const appendFive = (from: number, expectedVersion: number) =>
      store.commit(
        ref,
        (prev, logEnd) =>
          appendTurns(prev, ref, {
            afterSeq: logEnd,
            turns: [0, 1, 2, 3, 4].map((i) => ({ ...turn(from + i), ref: 'r'.repeat(256) })),
            at: at(),
            ttlSeconds: 3600,
          }),
        { expectedVersion },
      );
    let state = await appendFive(0, 0);
    state = await store.commit(ref, (prev) => {
      const event: SessionEvent = {
        seq: prev!.lastSeq + 1,
        type: 'summary_updated',
        at: at(),
        data: {
          version: prev!.version,
          expiresAt: prev!.expiresAt,
          summary: largestSummary(5),
          unsummarized: 0,
        },
      };
      return { state: applyEvent(prev, ref, event), events: [event] };
    });
    // 20 appends of 40 KiB: 160 KiB of turns many times over, every one of them must land.
    for (let n = 1; n <= 20; n++) state = await appendFive(n * 5, state.version);
    expect(state.version).toBe(21);
    const stored = await store.get(ref);
    expect(stored?.version).toBe(21);
    expect(itemBytes(stored!)).toBeLessThanOrEqual(sessionLimits.maxItemBytes);
    // Recent turns gave way first: the newest are kept, and the summary's facts are all there.
    expect(stored!.recentTurns.at(-1)!.content.startsWith('104 ')).toBe(true);
    expect(stored!.summary!.facts).toHaveLength(200);
  });

  it('keeps room for the newest turn even past the largest summary, by trimming its citations', () => {
    const ref: SessionRef = { tenantId: 't', sessionId: 's' };
    const huge = largestSummary(1);
    for (const f of huge.facts) f.citations = [...f.citations, ...f.citations]; // 10 citations each
    let state = appendTurns(null, ref, {
      turns: [{ role: 'user', content: 'hi', tokens: 1 }],
      at: at(),
      ttlSeconds: 60,
    }).state;
    state = applyEvent(state, ref, {
      seq: 2,
      type: 'summary_updated',
      at: at(),
      data: { version: 1, expiresAt: 1, summary: huge, unsummarized: 0 },
    });
    const big = 'z'.repeat(sessionLimits.maxTurnBytes);
    state = appendTurns(state, ref, {
      turns: [{ role: 'user', content: big, tokens: 9 }],
      at: at(),
      ttlSeconds: 60,
    }).state;
    expect(itemBytes(state)).toBeLessThanOrEqual(sessionLimits.maxItemBytes);
    expect(state.recentTurns.at(-1)!.content).toBe(big);
    expect(state.summary!.facts.every((f) => f.citations.length === 1)).toBe(true);
  });

  it('drops the oldest summary facts when even one citation each is too much', () => {
    const ref: SessionRef = { tenantId: 't', sessionId: 's' };
    const huge = largestSummary(1);
    for (const f of huge.facts) f.text = f.text.repeat(5); // ~1.6 KB each: 320 KB of text alone
    const state = applyEvent(
      appendTurns(null, ref, {
        turns: [{ role: 'user', content: 'hi', tokens: 1 }],
        at: at(),
        ttlSeconds: 60,
      }).state,
      ref,
      {
        seq: 2,
        type: 'summary_updated',
        at: at(),
        data: { version: 1, expiresAt: 1, summary: huge, unsummarized: 0 },
      },
    );
    expect(itemBytes(state)).toBeLessThanOrEqual(sessionLimits.maxItemBytes - sessionLimits.maxTurnBytes);
    expect(state.summary!.facts.length).toBeLessThan(200);
    expect(state.summary!.facts.at(-1)!.key).toBe('note:fact-199');
    expect(state.recentTurns).toHaveLength(1);
  });
});
