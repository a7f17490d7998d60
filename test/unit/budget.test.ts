import { describe, expect, it } from 'vitest';
import {
  type BudgetInput,
  budget,
  type ChatMessage,
  effectiveCaps,
  MESSAGE_OVERHEAD,
  REPLY_PRIMING,
} from '../../lambdas/domain/budget';
import { type Caps, type RetrievedFact, sources } from '../../lambdas/domain/context';
import { BudgetTooSmallError, InputTooLargeError } from '../../lambdas/domain/errors';
import type { StructuredSummary } from '../../lambdas/domain/facts';
import type { StoredTurn } from '../../lambdas/domain/session';
import { tiktokenCounter } from '../../lambdas/domain/tokens';

/** Small seeded PRNG (mulberry32): reproducible random cases without a dependency. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const words = ['alpha', 'beta', 'refund', 'order', 'état', 'price', 'ünïcode', 'ship', 'late', '🙂'];
  const text = (maxWords: number) =>
    Array.from({ length: int(1, maxWords) }, () => words[int(0, words.length - 1)]).join(' ');
  return { next, int, text };
}

/** Tokens = UTF-8 bytes: then the byte-charged framing is exact, and the accounting can be recomputed. */
const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

const bigCaps: Caps = {
  total: 100_000,
  system: 10_000,
  summary: 10_000,
  history: 10_000,
  facts: 10_000,
  profile: 10_000,
  recall: 10_000,
  input: 10_000,
};

function turn(seq: number, content: string, extra: Partial<StoredTurn> = {}): StoredTurn {
  return {
    seq,
    role: seq % 2 ? 'user' : 'assistant',
    content,
    tokens: bytes(content),
    at: '2026-01-01T00:00:00Z',
    ...extra,
  };
}
function fact(id: string, text: string): RetrievedFact {
  return {
    id,
    version: 1,
    text,
    tokens: bytes(text),
    citations: [{ sessionId: 's1', seq: 3 }],
    pinned: false,
  };
}
function summary(facts: { key: string; text: string }[], short: string): StructuredSummary {
  const sf = facts.map((f) => ({ ...f, citations: [{ seq: 1 }], recency: 1, tokens: bytes(f.text) }));
  return {
    facts: sf,
    short: { text: short, tokens: bytes(short) },
    tokens: 0,
    watermarkSeq: 1,
    engine: 'extractive',
    updatedAt: '',
  };
}
function input(over: Partial<BudgetInput> = {}): BudgetInput {
  return {
    sessionId: 'ctx',
    caps: bigCaps,
    maxTurns: 50,
    system: { text: 'You are helpful.', tokens: bytes('You are helpful.') },
    input: { text: 'where is my order?', tokens: bytes('where is my order?') },
    profile: [],
    facts: [],
    summary: null,
    turns: [],
    ...over,
  };
}

/** What the messages cost when every token is a byte: content, name, tool call id, framing, priming. */
const recount = (messages: ChatMessage[]) =>
  messages.reduce(
    (n, m) => n + MESSAGE_OVERHEAD + bytes(m.content) + bytes(m.name ?? '') + bytes(m.toolCallId ?? ''),
    REPLY_PRIMING,
  );

function randomCase(seed: number): BudgetInput {
  const r = prng(seed);
  const turns = Array.from({ length: r.int(0, 40) }, (_, i) =>
    turn(i + 1, r.text(60), r.next() < 0.1 ? { role: 'tool', name: 'lookup', toolCallId: `c${i}` } : {}),
  );
  // (each text names its fact: the prompt does not, and random texts may repeat)
  const facts = Array.from({ length: r.int(0, 30) }, (_, i) => {
    const id = `f${String(i).padStart(3, '0')}`;
    return fact(id, `${id} ${r.text(40)}`);
  });
  const profile = Array.from({ length: r.int(0, 8) }, (_, i) => {
    const text = `attr${i}: ${r.text(6)}`;
    return { attr: `attr${i}`, text, tokens: bytes(text) };
  });
  const sum =
    r.next() < 0.7
      ? summary(
          Array.from({ length: r.int(0, 12) }, (_, i) => ({ key: `k${i}`, text: r.text(20) })),
          r.next() < 0.8 ? r.text(15) : '',
        )
      : null;
  const caps = Object.fromEntries(
    ['total', ...sources].map((s) => [s, r.int(0, s === 'total' ? 6000 : 2000)]),
  ) as Caps;
  // Most cases must fit their required parts so the drop logic is exercised, not only the errors.
  if (r.next() < 0.85) {
    caps.system = Math.max(caps.system, 40);
    caps.input = Math.max(caps.input, 400);
    caps.total = Math.max(caps.total, 500);
  }
  const text = r.text(50);
  return input({
    caps,
    maxTurns: r.int(0, 30),
    input: { text, tokens: bytes(text) },
    turns,
    facts,
    profile,
    summary: sum,
  });
}

describe('budget(): property test over random state and budgets', () => {
  it('never exceeds a cap, accounts every token it sends, and never splits an item', () => {
    let built = 0;
    for (let seed = 1; seed <= 1500; seed++) {
      const i = randomCase(seed);
      let out: ReturnType<typeof budget>;
      try {
        out = budget(i);
      } catch (err) {
        expect(err instanceof InputTooLargeError || err instanceof BudgetTooSmallError, `seed ${seed}`).toBe(
          true,
        );
        continue;
      }
      built++;
      for (const s of out.sections) expect(s.tokens, `seed ${seed} ${s.source}`).toBeLessThanOrEqual(s.cap);
      expect(out.usage.tokensTotal, `seed ${seed}`).toBeLessThanOrEqual(i.caps.total);
      expect(out.usage.tokensTotal).toBe(out.sections.reduce((n, s) => n + s.tokens, 0));
      // Honest accounting: with a byte tokenizer the charge is exactly what the messages hold.
      expect(recount(out.messages), `seed ${seed}`).toBe(out.usage.tokensTotal);
      // Every turn is either sent whole or listed as dropped; sent turns are the newest, in order.
      const history = out.sections.find((s) => s.source === 'history')!;
      expect(history.items + history.dropped.length).toBe(i.turns.length);
      const sent = out.messages.slice(1, -1);
      expect(sent.map((m) => m.content)).toEqual(
        i.turns.slice(i.turns.length - sent.length).map((t) => t.content),
      );
      const facts = out.sections.find((s) => s.source === 'facts')!;
      expect(facts.items + facts.dropped.length).toBe(i.facts.length);
      const system = out.messages[0]!.content;
      for (const f of i.facts) {
        const inSystem = system.includes(`\n- ${f.text} (cites: s1#3)`);
        expect(inSystem).toBe(!facts.dropped.some((d) => d.id === `fact:${f.id}`));
      }
    }
    expect(built).toBeGreaterThan(1000);
  });

  it('gives byte-identical messages for the same input', () => {
    for (let seed = 1; seed <= 50; seed++) {
      let a: string;
      try {
        a = JSON.stringify(budget(randomCase(seed)));
      } catch {
        continue;
      }
      expect(JSON.stringify(budget(randomCase(seed)))).toBe(a);
    }
  });
});

describe('budget(): drop order and fallbacks', () => {
  it('drops the oldest turns first and keeps the conversation contiguous', () => {
    const turns = [turn(1, 'x'.repeat(10)), turn(2, 'y'.repeat(50)), turn(3, 'z'.repeat(40))];
    const out = budget(input({ turns, caps: { ...bigCaps, history: 40 + MESSAGE_OVERHEAD + 20 } }));
    expect(out.messages.slice(1, -1).map((m) => m.content[0])).toEqual(['z']);
    // Turn 1 would fit in what is left, but sending it without turn 2 would put a hole in the conversation.
    expect(out.sections.find((s) => s.source === 'history')!.dropped).toEqual([
      { id: 'turn:2', reason: 'source_cap' },
      { id: 'turn:1', reason: 'source_cap' },
    ]);
  });

  it('keeps at most maxTurns turns', () => {
    const turns = [1, 2, 3, 4, 5].map((n) => turn(n, `t${n}`));
    const out = budget(input({ turns, maxTurns: 2 }));
    expect(out.messages.map((m) => m.content)).toEqual([
      'You are helpful.',
      't4',
      't5',
      'where is my order?',
    ]);
    expect(out.sections.find((s) => s.source === 'history')!.dropped.map((d) => d.reason)).toEqual([
      'max_turns',
      'max_turns',
      'max_turns',
    ]);
  });

  it('drops the lowest-scored facts first and lists them', () => {
    const facts = ['best', 'good', 'weak'].map((t, i) => fact(`f${i}`, t.repeat(10)));
    const cost = (f: RetrievedFact) => bytes('\n- ') + f.tokens + bytes(' (cites: s1#3)');
    const cap = bytes('\n\n## Facts') + cost(facts[0]!) + cost(facts[1]!);
    const out = budget(input({ facts, caps: { ...bigCaps, facts: cap } }));
    const section = out.sections.find((s) => s.source === 'facts')!;
    expect(section).toMatchObject({
      tokens: cap,
      items: 2,
      dropped: [{ id: 'fact:f2', reason: 'source_cap' }],
    });
    expect(out.messages[0]!.content).toContain('## Facts\n- bestbest');
    expect(out.messages[0]!.content).not.toContain('weak');
  });

  it('falls back from the full summary to the short one, then to none', () => {
    const s = summary(
      [{ key: 'refund', text: 'The customer asked for a refund of order 42.' }],
      'Refund for order 42.',
    );
    const full = budget(input({ summary: s }));
    expect(full.sections.find((x) => x.source === 'summary')).toMatchObject({ form: 'full', dropped: [] });
    expect(full.messages[0]!.content).toContain('## Conversation summary\n- [refund] The customer asked');

    const short = budget(input({ summary: s, caps: { ...bigCaps, summary: 60 } }));
    expect(short.sections.find((x) => x.source === 'summary')).toMatchObject({
      form: 'short',
      items: 1,
      dropped: [{ id: 'summary:full', reason: 'source_cap' }],
    });
    expect(short.messages[0]!.content).toContain('## Conversation summary\nRefund for order 42.');

    const none = budget(input({ summary: s, caps: { ...bigCaps, summary: 10 } }));
    expect(none.sections.find((x) => x.source === 'summary')).toMatchObject({ form: 'none', tokens: 0 });
    expect(none.messages[0]!.content).not.toContain('summary');
  });

  it('says total_cap when the source had room but the total did not', () => {
    const facts = [fact('f1', 'a'.repeat(100))];
    const base = budget(input());
    const out = budget(input({ facts, caps: { ...bigCaps, total: base.usage.tokensTotal + 50 } }));
    expect(out.sections.find((s) => s.source === 'facts')!.dropped).toEqual([
      { id: 'fact:f1', reason: 'total_cap' },
    ]);
  });

  it('refuses an input over its cap (413) and a system prompt over its cap (422)', () => {
    expect(() => budget(input({ caps: { ...bigCaps, input: 10 } }))).toThrow(InputTooLargeError);
    expect(() => budget(input({ caps: { ...bigCaps, total: 30 } }))).toThrow(InputTooLargeError);
    expect(() => budget(input({ caps: { ...bigCaps, system: 5 } }))).toThrow(BudgetTooSmallError);
  });

  it('orders messages: system (prompt, profile, facts, summary), history, input', () => {
    const out = budget(
      input({
        profile: [{ attr: 'plan', text: 'plan: pro', tokens: 9 }],
        facts: [fact('f1', 'Orders ship in 2 days.')],
        summary: summary([{ key: 'k', text: 'asked about shipping' }], 'shipping'),
        turns: [turn(1, 'hi'), turn(2, 'hello')],
      }),
    );
    expect(out.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(out.messages[0]!.content).toBe(
      'You are helpful.\n\n## User profile\n- plan: pro\n\n## Facts\n- Orders ship in 2 days. (cites: s1#3)' +
        '\n\n## Conversation summary\n- [k] asked about shipping (cites: #1)',
    );
    expect(out.sections.map((s) => s.source)).toEqual([...sources]);
    expect(out.usage.tokensFromState).toBe(
      out.usage.tokensTotal - out.sections[0]!.tokens - out.sections.at(-1)!.tokens,
    );
  });

  it("cites turns by seq (the context's own session's without its id), other references by ref", () => {
    const cited = { ...fact('f1', 'Orders ship in 2 days.') };
    cited.citations = [
      { sessionId: 's1', seq: 3, ref: 'msg-3' },
      { sessionId: 's2', seq: 8 },
      { ref: 'doc-9' },
    ];
    const out = budget({ ...input({ facts: [cited] }), sessionId: 's1' });
    expect(out.messages[0]!.content).toContain('\n- Orders ship in 2 days. (cites: #3; s2#8; ref:doc-9)');
  });

  it('charges at least what a real tokenizer counts for the rendered messages', () => {
    const count = (s: string) => tiktokenCounter.count(s);
    const t = (seq: number, content: string) => ({ ...turn(seq, content), tokens: count(content) });
    const f = (id: string, text: string) => ({ ...fact(id, text), tokens: count(text) });
    const out = budget(
      input({
        system: { text: 'You are a support agent.', tokens: count('You are a support agent.') },
        input: { text: 'Where is order 42?', tokens: count('Where is order 42?') },
        facts: [f('f-1', 'Order 42 shipped on Monday.'), f('f-2', 'Refunds take 5 days.')],
        turns: [t(1, 'Hi, I need help with an order.'), t(2, 'Sure, which order?')],
      }),
    );
    const actual = out.messages.reduce((n, m) => n + MESSAGE_OVERHEAD + count(m.content), REPLY_PRIMING);
    expect(out.usage.tokensTotal).toBeGreaterThanOrEqual(actual);
  });
});

describe('effectiveCaps()', () => {
  const policy: Caps = {
    total: 8000,
    system: 1500,
    summary: 1000,
    history: 2000,
    facts: 1500,
    recall: 4000,
    profile: 300,
    input: 2000,
  };
  it('lowers caps, never raises them, and reports each clamp', () => {
    const { caps, clamped } = effectiveCaps(policy, { total: 9000, facts: 500, history: 5000 });
    expect(caps).toEqual({ ...policy, facts: 500 });
    expect(clamped).toEqual([
      { source: 'total', requested: 9000, cap: 8000 },
      { source: 'history', requested: 5000, cap: 2000 },
    ]);
  });
});
