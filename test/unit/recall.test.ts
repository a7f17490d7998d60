import { describe, expect, it } from 'vitest';
import { analyze } from '../../lambdas/domain/analyzer';
import { budget, type RecallInput } from '../../lambdas/domain/budget';
import type { Caps } from '../../lambdas/domain/context';
import {
  indexSession,
  type Posting,
  type RecallIndexPort,
  type RecallReadPort,
  recallFor,
  type Scope,
  type ScopeStats,
} from '../../lambdas/domain/recall';
import type { StoredTurn } from '../../lambdas/domain/session';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** The recall index and event log in memory, with the same semantics as the DynamoDB store. */
class MemoryRecall implements RecallReadPort, RecallIndexPort {
  readonly log = new Map<string, StoredTurn[]>();
  private readonly counters = new Map<Scope, ScopeStats>();
  private readonly postings = new Map<string, Map<string, Posting>>();
  tailEvents = 300;

  append(sessionId: string, contents: string[], at = '2026-03-01T10:00:00.000Z') {
    const turns = this.log.get(sessionId) ?? [];
    for (const content of contents) {
      turns.push({ role: 'user', content, seq: turns.length + 1, tokens: bytes(content), at });
    }
    this.log.set(sessionId, turns);
  }

  async stats(_t: string, scope: Scope): Promise<ScopeStats> {
    const s = this.counters.get(scope) ?? { docs: 0, length: 0, watermarks: {} };
    return { ...s, watermarks: { ...s.watermarks } };
  }
  async writePostings(_t: string, scope: Scope, byTerm: Map<string, Posting[]>) {
    for (const [term, list] of byTerm) {
      const key = `${scope}|${term}`;
      const m = this.postings.get(key) ?? new Map<string, Posting>();
      for (const p of list) m.set(`${p.sessionId}#${p.seq}`, p);
      this.postings.set(key, m);
    }
  }
  async advance(
    _t: string,
    scope: Scope,
    sessionId: string,
    b: { from: number; to: number; docs: number; length: number },
  ) {
    const s = await this.stats('', scope);
    if ((s.watermarks[sessionId] ?? 0) !== b.from) return false;
    s.watermarks[sessionId] = b.to;
    this.counters.set(scope, {
      docs: s.docs + b.docs,
      length: s.length + b.length,
      watermarks: s.watermarks,
    });
    return true;
  }
  async snapshot(_t: string, scope: Scope, terms: string[]) {
    const stats = await this.stats('', scope);
    return {
      scope,
      stats,
      terms: new Map(
        terms.map((term) => {
          const list = [...(this.postings.get(`${scope}|${term}`)?.values() ?? [])];
          return [term, { postings: list, total: list.length }];
        }),
      ),
    };
  }
  async tail(_t: string, sessionId: string) {
    const log = this.log.get(sessionId) ?? [];
    const turns = log.slice(-this.tailEvents).reverse();
    return { turns, oldestSeq: turns.at(-1)?.seq ?? 0, more: log.length > this.tailEvents };
  }
  async turns(_t: string, refs: { sessionId: string; seq: number }[]) {
    const out = new Map<string, StoredTurn>();
    for (const r of refs) {
      const t = this.log.get(r.sessionId)?.[r.seq - 1];
      if (t) out.set(`${r.sessionId}#${r.seq}`, t);
    }
    return out;
  }
  index(sessionId: string, userId?: string, upTo = Number.POSITIVE_INFINITY) {
    return indexSession(
      this,
      async (after, limit) => {
        const turns = (this.log.get(sessionId) ?? [])
          .filter((t) => t.seq > after && t.seq <= upTo)
          .slice(0, limit);
        return { turns, lastSeq: turns.at(-1)?.seq ?? after };
      },
      { tenantId: 't', sessionId, ...(userId ? { userId } : {}) },
    );
  }
}

const chatter = (n: number, seed = 1) => {
  const topics = ['weather', 'coffee', 'traffic', 'football', 'movies', 'gardening', 'music', 'weekend'];
  return Array.from({ length: n }, (_, i) => {
    const a = topics[(i * 7 + seed) % topics.length];
    const b = topics[(i * 3 + seed + 1) % topics.length];
    return `Ana: what do you think about the ${a} and the ${b} today, number ${i}?`;
  });
};

describe('analyze()', () => {
  it('drops stop words and stems with Porter2, keeps numbers', () => {
    expect(analyze('The nurses were running to Lisbon in 2019!')).toEqual(['nurs', 'run', 'lisbon', '2019']);
  });
});

describe('recall', () => {
  it('finds a planted turn among chatter, with its reply, and cites it', async () => {
    const mem = new MemoryRecall();
    mem.append('s1', chatter(40));
    mem.append('s1', [
      'Ana: which vaccine does my dog Biscuit need?',
      'Ben: Biscuit needs the rabies shot in May.',
    ]);
    mem.append('s1', chatter(40, 3));
    await mem.index('s1');
    const r = await recallFor(mem, {
      tenantId: 't',
      sessionId: 's1',
      input: 'When is the rabies shot for Biscuit?',
    });
    expect(r.complete).toBe(true);
    expect(r.hits[0]).toMatchObject({ sessionId: 's1', seq: 42 });
    expect(r.turns.get('s1#41')?.content).toContain('vaccine');
  });

  it('ranks the same whether a turn is indexed or still in the unindexed tail', async () => {
    const full = new MemoryRecall();
    const half = new MemoryRecall();
    for (const m of [full, half]) {
      m.append('s1', chatter(60));
      m.append('s1', ['Ana: I adopted a cat named Pixel last spring.']);
      m.append('s1', chatter(30, 5));
    }
    await full.index('s1');
    await half.index('s1', undefined, 50);
    const input = 'what is the name of the cat Ana adopted?';
    const a = await recallFor(full, { tenantId: 't', sessionId: 's1', input });
    const b = await recallFor(half, { tenantId: 't', sessionId: 's1', input });
    expect(b.hits.length).toBeGreaterThan(0);
    expect(b.hits).toEqual(a.hits);
    expect(a.hits[0]!.seq).toBe(61);
  });

  it('ignores postings written beyond the watermark (a batch whose counters are not in yet)', async () => {
    const mem = new MemoryRecall();
    mem.append('s1', ['Ana: the blue kayak is in the garage', ...chatter(10)]);
    await mem.index('s1');
    const before = await recallFor(mem, { tenantId: 't', sessionId: 's1', input: 'kayak garage' });
    mem.append('s1', ['Ana: I sold the kayak']);
    // A crashed run: postings written, counters not advanced.
    const scope: Scope = 'S:s1';
    await mem.writePostings(
      't',
      scope,
      new Map([['kayak', [{ sessionId: 's1', seq: 12, tf: 1, len: 2, day: 1 }]]]),
    );
    const after = await recallFor(mem, { tenantId: 't', sessionId: 's1', input: 'kayak garage' });
    expect(after.hits.map((h) => h.seq)).toEqual([1, 12]);
    expect(after.hits[0]!.score).not.toBe(before.hits[0]!.score); // the tail's turn counts, once
    await mem.index('s1');
    expect(await recallFor(mem, { tenantId: 't', sessionId: 's1', input: 'kayak garage' })).toEqual(after);
  });

  it("recalls across the user's other sessions only when the request names the user", async () => {
    const mem = new MemoryRecall();
    mem.append('old', ['Ana: my sister Clara lives in Porto', ...chatter(5)]);
    mem.append('new', chatter(5, 2));
    await mem.index('old', 'u1');
    await mem.index('new', 'u1');
    const input = 'where does Clara live?';
    const mine = await recallFor(mem, { tenantId: 't', sessionId: 'new', input });
    expect(mine.hits.some((h) => h.sessionId === 'old')).toBe(false);
    const theirs = await recallFor(mem, { tenantId: 't', sessionId: 'new', userId: 'u1', input });
    expect(theirs.hits[0]).toMatchObject({ sessionId: 'old', seq: 1 });
    // Another user's scope holds nothing of u1.
    const other = await recallFor(mem, { tenantId: 't', sessionId: 'new', userId: 'u2', input });
    expect(other.hits.some((h) => h.sessionId === 'old')).toBe(false);
  });

  it('says when the unindexed tail is longer than one read', async () => {
    const mem = new MemoryRecall();
    mem.tailEvents = 20;
    mem.append('s1', chatter(50));
    const r = await recallFor(mem, { tenantId: 't', sessionId: 's1', input: 'football weather' });
    expect(r.complete).toBe(false);
    await mem.index('s1');
    expect(
      (await recallFor(mem, { tenantId: 't', sessionId: 's1', input: 'football weather' })).complete,
    ).toBe(true);
  });

  it('is deterministic: equal scores break by seq', async () => {
    const mem = new MemoryRecall();
    mem.append('s1', ['Ana: zebra', 'Ana: zebra', 'Ana: zebra', ...chatter(5)]);
    await mem.index('s1');
    const r = await recallFor(mem, { tenantId: 't', sessionId: 's1', input: 'zebra' });
    expect(r.hits.map((h) => h.seq)).toEqual([1, 2, 3]);
  });
});

describe('budget(): the recall section', () => {
  const caps: Caps = {
    total: 10_000,
    system: 1000,
    summary: 1000,
    history: 1000,
    facts: 1000,
    profile: 1000,
    recall: 1000,
    input: 1000,
  };
  const turn = (seq: number, content: string, at = '2026-03-01T10:00:00.000Z'): StoredTurn => ({
    role: 'user',
    content,
    seq,
    tokens: bytes(content),
    at,
    ref: `m${seq}`,
  });
  const log = Array.from({ length: 30 }, (_, i) => turn(i + 1, `turn number ${i + 1}`));
  const recallOf = (hits: number[]): RecallInput => ({
    sessionId: 's1',
    hits: hits.map((seq, i) => ({ sessionId: 's1', seq, score: 10 - i })),
    turns: new Map(log.map((t) => [`s1#${t.seq}`, t])),
    framing: bytes,
  });
  const run = (over: Partial<Caps>, hits: number[], history = log.slice(-5)) =>
    budget({
      caps: { ...caps, ...over },
      maxTurns: 12,
      system: { text: 'sys', tokens: 3 },
      input: { text: 'q', tokens: 1 },
      profile: [],
      facts: [],
      summary: null,
      turns: history,
      recall: recallOf(hits),
    });

  it('renders hits best first with neighbours, date and ref, never a turn of the history', () => {
    const out = run({}, [10, 27, 3]);
    const system = out.messages[0]!.content;
    expect(system).toContain('## Recalled from earlier in the conversation');
    const order = ['#9,', '#10,', '#11,', '#3,'].map((s) => system.indexOf(s));
    expect(order.every((i) => i > 0)).toBe(true);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(system).toContain('[2026-03-01, #9, ref m9] turn number 9');
    expect(system).not.toContain('#27'); // in history (turns 26-30)
    expect(system).not.toContain('#26,');
    const section = out.sections.find((s) => s.source === 'recall')!;
    expect(section.items).toBe(6); // 9 10 11, 2 3 4
    expect(section.dropped).toEqual([]);
  });

  it('lists every hit and neighbour it could not fit, with the cap it hit', () => {
    const out = run({ recall: 120 }, [10, 20]);
    const section = out.sections.find((s) => s.source === 'recall')!;
    expect(section.tokens).toBeLessThanOrEqual(120);
    expect(section.dropped.every((d) => d.reason === 'source_cap' && d.id.startsWith('recall:'))).toBe(true);
    // Hit 10 fits alone (its neighbours do not), hit 20 not at all: each one named.
    expect(section.items).toBe(1);
    expect(section.dropped.map((d) => d.id)).toEqual(['recall:9', 'recall:11', 'recall:20']);
  });

  it('takes what the split leaves: history is held to its share of a small total', () => {
    const many = log.slice(-12);
    const out = budget({
      caps: { ...caps, total: 400 },
      maxTurns: 12,
      system: { text: 'sys', tokens: 3 },
      input: { text: 'q', tokens: 1 },
      profile: [],
      facts: [],
      summary: null,
      turns: many,
      split: { history: 0.25 },
      recall: recallOf([2, 8]),
    });
    const history = out.sections.find((s) => s.source === 'history')!;
    const recall = out.sections.find((s) => s.source === 'recall')!;
    expect(history.cap).toBe(Math.floor(0.25 * (400 - 6 - 7)));
    expect(history.tokens).toBeLessThanOrEqual(history.cap);
    expect(recall.items).toBeGreaterThan(0);
    expect(out.usage.tokensTotal).toBeLessThanOrEqual(400);
  });
});
