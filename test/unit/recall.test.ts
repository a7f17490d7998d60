import { describe, expect, it } from 'vitest';
import { analyze } from '../../lambdas/domain/analyzer';
import { type BudgetInput, budget, type RecallInput } from '../../lambdas/domain/budget';
import type { Caps } from '../../lambdas/domain/context';
import {
  decodePostings,
  encodePostings,
  recallFor,
  type Scope,
  specificsOf,
} from '../../lambdas/domain/recall';
import type { StoredTurn } from '../../lambdas/domain/session';
import { MemoryRecall } from '../support/memory-recall';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** Recall for a question on session s1 of tenant t, with room for 2,000 tokens. */
const ask = (port: MemoryRecall, input: string, over: { sessionId?: string; userId?: string } = {}) =>
  recallFor(port, { room: 2000, tenantId: 't', sessionId: 's1', input, ...over });

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

/** A two-hop question's evidence: who gave the camera (turn 1), then where that friend lives (turn 32). */
async function twoHopSession() {
  const mem = new MemoryRecall();
  mem.append('s1', [
    'Ana: my friend Mirela gave me a vintage camera for my birthday',
    ...chatter(30),
    'Ana: big news from Mirela, she moved to Valencia last month',
    ...chatter(30, 4),
  ]);
  await mem.index('s1');
  return mem;
}

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
    const r = await ask(mem, 'When is the rabies shot for Biscuit?');
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
    const a = await ask(full, input);
    const b = await ask(half, input);
    expect(b.hits.length).toBeGreaterThan(0);
    expect(b.hits).toEqual(a.hits);
    expect(a.hits[0]!.seq).toBe(61);
  });

  it("takes the tail from the session item's newest turns when they reach the watermark: no log read", async () => {
    const mem = new MemoryRecall();
    mem.append('s1', [...chatter(60), 'Ana: I adopted a cat named Pixel last spring.', ...chatter(10, 5)]);
    await mem.index('s1', undefined, 55);
    const input = 'what is the name of the cat Ana adopted?';
    const fromLog = await ask(mem, input);
    let tailReads = 0;
    const counting = Object.assign(Object.create(mem) as MemoryRecall, {
      tail: (...args: Parameters<MemoryRecall['tail']>) => {
        tailReads++;
        return mem.tail(...args);
      },
    });
    const log = mem.log.get('s1')!;
    const recent = async () => ({ turns: log.slice(-50), all: false });
    const fromItem = await recallFor(counting, { room: 2000, tenantId: 't', sessionId: 's1', input, recent });
    expect(tailReads).toBe(0);
    expect(fromItem.hits).toEqual(fromLog.hits);
    // Newest turns that do not reach back to the watermark: the log is read after all.
    const short = async () => ({ turns: log.slice(-5), all: false });
    const fallback = await recallFor(counting, {
      room: 2000,
      tenantId: 't',
      sessionId: 's1',
      input,
      recent: short,
    });
    expect(tailReads).toBe(1);
    expect(fallback.hits).toEqual(fromLog.hits);
  });

  it('ignores postings written beyond the watermark (a batch whose counters are not in yet)', async () => {
    const mem = new MemoryRecall();
    mem.append('s1', ['Ana: the blue kayak is in the garage', ...chatter(10)]);
    await mem.index('s1');
    const before = await ask(mem, 'kayak garage');
    mem.append('s1', ['Ana: I sold the kayak']);
    // A crashed run: postings written, counters not advanced.
    const scope: Scope = 'S:s1';
    await mem.writePostings(
      't',
      scope,
      11,
      new Map([['kayak', [{ sessionId: 's1', seq: 12, tf: 1, len: 2, day: 1, q: 0, e: '' }]]]),
    );
    const after = await ask(mem, 'kayak garage');
    expect(after.hits.map((h) => h.seq)).toEqual([1, 12]);
    expect(after.hits[0]!.score).not.toBe(before.hits[0]!.score); // the tail's turn counts, once
    await mem.index('s1');
    expect(await ask(mem, 'kayak garage')).toEqual(after);
  });

  it("recalls across the user's other sessions only when the request names the user", async () => {
    const mem = new MemoryRecall();
    mem.append('old', ['Ana: my sister Clara lives in Porto', ...chatter(5)]);
    mem.append('new', chatter(5, 2));
    await mem.index('old', 'u1');
    await mem.index('new', 'u1');
    const input = 'where does Clara live?';
    const mine = await ask(mem, input, { sessionId: 'new' });
    expect(mine.hits.some((h) => h.sessionId === 'old')).toBe(false);
    const theirs = await ask(mem, input, { sessionId: 'new', userId: 'u1' });
    expect(theirs.hits[0]).toMatchObject({ sessionId: 'old', seq: 1 });
    // Another user's scope holds nothing of u1.
    const other = await ask(mem, input, { sessionId: 'new', userId: 'u2' });
    expect(other.hits.some((h) => h.sessionId === 'old')).toBe(false);
  });

  it('says when the unindexed tail is longer than one read', async () => {
    const mem = new MemoryRecall();
    mem.append('s1', chatter(400)); // more than recallLimits.tailEvents, none indexed
    const r = await ask(mem, 'football weather');
    expect(r.complete).toBe(false);
    await mem.index('s1');
    expect((await ask(mem, 'football weather')).complete).toBe(true);
  });

  it('prefers, among equal matches, the turn that states something specific', async () => {
    const mem = new MemoryRecall();
    mem.append('s1', [
      'Ana: haha same, love that',
      'Ana: I signed up for Tango lessons at Studio 54',
      'Ben: ok',
    ]);
    await mem.index('s1');
    const r = await ask(mem, 'What hobby did Ana start?');
    expect(r.hits.slice(0, 2).map((h) => h.seq)).toEqual([2, 1]);
    expect(specificsOf('Ana: I signed up for Tango lessons at Studio 54')).toEqual({
      count: 3,
      names: ['tango', 'studio'],
    });
  });

  it("prefers what a person says to another speaker's mention of their name, indexed or in the tail", async () => {
    const mem = new MemoryRecall();
    const turns = [
      'Ben: Ana, the bakery on the corner is finally open again',
      'Ana: spiders terrify me, I cannot even look at a picture of one',
      'Ben: ok',
    ];
    mem.append('s1', turns);
    await mem.index('s1');
    // (the name is the only term either matches; without the speaker signal the mention ranks first)
    expect((await ask(mem, 'What is Ana scared of?')).hits.map((h) => h.seq)).toEqual([2, 1]);
    const unindexed = new MemoryRecall();
    unindexed.append('s1', turns);
    expect((await ask(unindexed, 'What is Ana scared of?')).hits.map((h) => h.seq)).toEqual([2, 1]);
  });

  it('keeps the speaker flag and tokens through the stored postings, and reads postings stored before them', () => {
    const postings = [
      { sessionId: 's1', seq: 4, tf: 1, len: 6, day: 19500, q: 0, e: '', sp: 1, tok: 14 },
      { sessionId: 's1', seq: 9, tf: 2, len: 11, day: 19501, q: 2, e: 'mirela porto', tok: 31 },
    ];
    expect(decodePostings('s1', encodePostings(postings))).toEqual(postings);
    const { sp: _, tok: __, ...stored } = postings[0]!;
    // Before the speaker flag, and with it but before tokens.
    expect(decodePostings('s1', '4,1,6,19500,0,')).toEqual([stored]);
    expect(decodePostings('s1', '4,1,6,19500,0,,1')).toEqual([{ ...stored, sp: 1 }]);
  });

  it('follows a name the best hit states to the turn that answers (second round)', async () => {
    const mem = await twoHopSession();
    const r = await ask(mem, 'In which city does the friend who gave Ana a vintage camera live?');
    expect(r.hits.slice(0, 2).map((h) => h.seq)).toEqual([1, 32]);
  });

  it("fetches the first round's turns while the second round's postings are read, then only what is missing", async () => {
    const mem = await twoHopSession();
    const seen: string[] = [];
    const fetched: string[][] = [];
    const port: typeof mem = Object.create(mem);
    let round = 0;
    port.snapshot = async (t, scope, terms) => {
      const n = ++round;
      seen.push(`postings ${n} asked`);
      const snap = await mem.snapshot(t, scope, terms);
      await new Promise((r) => setTimeout(r, 5));
      seen.push(`postings ${n} back`);
      return snap;
    };
    port.turns = async (t, refs) => {
      seen.push('turns asked');
      fetched.push(refs.map((r) => `${r.sessionId}#${r.seq}`));
      return mem.turns(t, refs);
    };
    const r = await recallFor(port, {
      tenantId: 't',
      sessionId: 's1',
      input: 'In which city does the friend who gave Ana a vintage camera live?',
      room: 200,
    });
    expect(r.hits.slice(0, 2).map((h) => h.seq)).toEqual([1, 32]);
    // The turns were asked for before the second round's postings were back.
    expect(seen.slice(0, 4)).toEqual([
      'postings 1 asked',
      'postings 1 back',
      'postings 2 asked',
      'turns asked',
    ]);
    // No turn is read twice, and what comes back is what the final hits asked for, nothing more.
    const all = fetched.flat();
    expect(new Set(all).size).toBe(all.length);
    // (the log's newest 32 turns, 31-62, are the tail read, always at hand)
    const wanted = new Set(r.hits.flatMap((h) => [h.seq - 1, h.seq, h.seq + 1]).map((n) => `s1#${n}`));
    const beforeTail = [...r.turns.keys()].filter((k) => Number(k.split('#')[1]) < 31);
    expect(beforeTail.length).toBeGreaterThan(0);
    expect(beforeTail.filter((k) => !wanted.has(k))).toEqual([]);
    expect(r.turns.get('s1#32')?.content).toContain('Valencia');
  });

  it('is deterministic: equal scores break by seq', async () => {
    const mem = new MemoryRecall();
    mem.append('s1', ['Ana: zebra', 'Ana: zebra', 'Ana: zebra', ...chatter(5)]);
    await mem.index('s1');
    const r = await ask(mem, 'zebra');
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
    hits: hits.map((seq, i) => ({ sessionId: 's1', seq, score: 10 - i })),
    turns: new Map(log.map((t) => [`s1#${t.seq}`, t])),
    framing: bytes,
  });
  const run = (
    over: Partial<Caps>,
    hits: number[] | RecallInput,
    history = log.slice(-5),
    more: Partial<BudgetInput> = {},
  ) =>
    budget({
      sessionId: 's1',
      caps: { ...caps, ...over },
      maxTurns: 12,
      system: { text: 'sys', tokens: 3 },
      input: { text: 'q', tokens: 1 },
      profile: [],
      facts: [],
      summary: null,
      turns: history,
      recall: Array.isArray(hits) ? recallOf(hits) : hits,
      ...more,
    });

  it('chooses hits best first with their neighbours, renders them in conversation order, never a history turn', () => {
    const out = run({}, [10, 27, 3]);
    const system = out.messages[0]!.content;
    expect(system).toContain(
      '## Recalled from earlier in the conversation\n2026-03-01' +
        '\n#2 turn number 2\n#3 turn number 3\n#4 turn number 4' +
        '\n#9 turn number 9\n#10 turn number 10\n#11 turn number 11',
    );
    expect(system).not.toContain('#27 '); // in history (turns 26-30)
    expect(system).not.toContain('#26 ');
    const section = out.sections.find((s) => s.source === 'recall')!;
    expect(section.items).toBe(6);
    expect(section.dropped).toEqual([]);
  });

  it('lists every hit and neighbour it could not fit, with the cap it hit', () => {
    // 100 tokens: header, date and turns 10-11 (95); turn 9 and hit 20 do not fit.
    const out = run({ recall: 100 }, [10, 20]);
    const section = out.sections.find((s) => s.source === 'recall')!;
    expect(section.tokens).toBe(95);
    expect(section.items).toBe(2);
    expect(section.dropped).toEqual([
      { id: 'recall:9', reason: 'source_cap' },
      { id: 'recall:20', reason: 'source_cap' },
    ]);
  });

  it('brings neighbours only for strong hits', () => {
    const hits = [
      { sessionId: 's1', seq: 10, score: 10 },
      { sessionId: 's1', seq: 20, score: 2 },
    ];
    const out = run({}, { ...recallOf([]), hits }, []);
    const system = out.messages[0]!.content;
    expect(system).toContain('#11 ');
    expect(system).toContain('#20 ');
    expect(system).not.toContain('#21 ');
  });

  it('takes what the split leaves: history is held to its share of a small total', () => {
    const out = run({ total: 400 }, [2, 8], log.slice(-12), { split: { history: 0.25 } });
    const history = out.sections.find((s) => s.source === 'history')!;
    const recall = out.sections.find((s) => s.source === 'recall')!;
    expect(history.cap).toBe(Math.floor(0.25 * (400 - 6 - 7)));
    expect(history.tokens).toBeLessThanOrEqual(history.cap);
    expect(recall.items).toBeGreaterThan(0);
    expect(out.usage.tokensTotal).toBeLessThanOrEqual(400);
  });
});

describe('recall from a pack (a session scope whole index in one item)', () => {
  /** The same conversation in two stores, indexed in three batches; one reads packs, one blocks. */
  async function both() {
    const stores = [new MemoryRecall(false), new MemoryRecall(true)];
    for (const mem of stores) {
      mem.append('s1', ['Ana: my friend Mirela gave me a vintage camera for my birthday', ...chatter(30)]);
      await mem.index('s1');
      mem.append('s1', ['Ana: big news from Mirela, she moved to Valencia last month', ...chatter(20, 4)]);
      await mem.index('s1');
      mem.append('s1', [
        'Ana: which vaccine does my dog Biscuit need?',
        'Ben: Biscuit needs the rabies shot.',
      ]);
      await mem.index('s1');
      // An unindexed tail, scored from the log either way.
      mem.append('s1', ['Ben: did Mirela like Valencia in the end?', ...chatter(3, 2)]);
    }
    return stores as [MemoryRecall, MemoryRecall];
  }

  it.each([
    'In which city does the friend who gave Ana a vintage camera live?',
    'When is the rabies shot for Biscuit?',
    'what does Ana think about the weather and football',
    'nothing here matches',
  ])('ranks and fetches exactly what the blocks give: %s', async (question) => {
    const [blocks, packed] = await both();
    const a = await ask(blocks, question);
    const b = await ask(packed, question);
    expect(b.hits).toEqual(a.hits);
    const sorted = (m: Map<string, unknown>) => [...m].sort(([x], [y]) => (x < y ? -1 : 1));
    expect(sorted(b.turns)).toEqual(sorted(a.turns));
    expect(b.complete).toBe(true);
  });

  it('reads nothing for the second round, and takes the recalled turns from the pack', async () => {
    const [, packed] = await both();
    const port: MemoryRecall = Object.create(packed);
    const calls: string[] = [];
    port.snapshot = async (...args) => {
      calls.push('snapshot');
      return packed.snapshot(...args);
    };
    port.turns = async (...args) => {
      calls.push('turns');
      return packed.turns(...args);
    };
    const r = await ask(port, 'In which city does the friend who gave Ana a vintage camera live?');
    expect(r.hits.slice(0, 2).map((h) => h.seq)).toEqual([1, 32]);
    // The indexed turns come from the pack; only the tail's neighbours could need a read, and the
    // tail is at hand.
    expect(calls).toEqual(['snapshot']);
    expect(r.turns.get('s1#1')?.content).toContain('vintage camera');
  });

  it('is never read once it missed a batch (a run cut short between counters and pack): the blocks serve', async () => {
    const mem = new MemoryRecall(true);
    mem.append('s1', ['Ana: my friend Mirela gave me a vintage camera', ...chatter(10)]);
    await mem.index('s1');
    // The second batch's counters move, its pack never comes.
    const pack = mem.pack.bind(mem);
    mem.pack = async () => {};
    mem.append('s1', ['Ana: Mirela moved to Valencia', ...chatter(10, 3)]);
    await mem.index('s1');
    mem.pack = pack;
    mem.append('s1', chatter(10, 5));
    await mem.index('s1');
    const snap = await mem.snapshot('t', 'S:s1', ['mirela']);
    expect(snap.lookup).toBeUndefined();
    expect(snap.terms.get('mirela')?.postings.map((p) => p.seq)).toEqual([1, 12]);
  });
});
