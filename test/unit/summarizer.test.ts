import { describe, expect, it } from 'vitest';
import { defaultPolicy, policySchema } from '../../lambdas/domain/policy';
import { appendTurns, type StoredTurn } from '../../lambdas/domain/session';
import {
  candidatesFromAnswer,
  InvalidModelAnswerError,
} from '../../lambdas/domain/summarizer/bedrock-format';
import { MAX_SUMMARY_FACTS } from '../../lambdas/domain/summarizer/compose';
import type { SummarizeInput } from '../../lambdas/domain/summarizer/engine';
import { ExtractiveEngine } from '../../lambdas/domain/summarizer/extractive';
import { needsSummary } from '../../lambdas/domain/summarizer/job';
import { tiktokenCounter } from '../../lambdas/domain/tokens';

const engine = new ExtractiveEngine(tiktokenCounter);
const caps = { maxTokens: 1000, shortMaxTokens: 250 };
const at = '2026-01-01T00:00:00.000Z';

const FILLER = [
  'Could you walk me through how the import job works',
  'Sure, the import job reads the file, validates each row and writes the valid ones.',
  'That sounds reasonable, thanks for the explanation.',
  'Happy to help, let me know what else is unclear.',
];

/** A scripted conversation: filler turns, with the given planted sentences at the given turn indexes. */
function conversation(n: number, planted: Record<number, string> = {}): StoredTurn[] {
  return Array.from({ length: n }, (_, i) => ({
    seq: i + 1,
    role: i % 2 === 0 ? ('user' as const) : ('assistant' as const),
    content: planted[i] ?? FILLER[i % FILLER.length]!,
    ref: `m-${i + 1}`,
    tokens: 10,
    at,
  }));
}

const input = (turns: StoredTurn[], over: Partial<SummarizeInput> = {}): SummarizeInput => ({
  sessionId: 's1',
  previous: null,
  turns,
  watermarkSeq: turns.at(-1)?.seq ?? 0,
  caps,
  at,
  ...over,
});

describe('the extractive engine', () => {
  const planted = {
    2: 'Hi there. My name is Priya Raman.',
    10: 'I prefer email over phone calls.',
    20: 'My budget is 12,000 euros.',
    31: 'We decided to use PostgreSQL for the ledger.',
    40: 'The deadline for the migration is March 14.',
  };

  it('finds planted facts and cites the event seq and turn ref they came from', async () => {
    const { summary } = await engine.summarize(input(conversation(60, planted)));
    const byKey = Object.fromEntries(summary.facts.map((f) => [f.key, f]));
    expect(byKey['user:name']?.text).toBe('User: My name is Priya Raman.');
    expect(byKey['user:name']?.citations).toEqual([{ seq: 3, ref: 'm-3' }]);
    expect(byKey['user:budget']?.citations).toEqual([{ seq: 21, ref: 'm-21' }]);
    expect(byKey['decision:postgresql-ledger']?.citations).toEqual([{ seq: 32, ref: 'm-32' }]);
    expect(byKey['commitment:deadline-migration']?.text).toContain('March 14');
    expect(Object.keys(byKey).some((k) => k.startsWith('user:prefers-email'))).toBe(true);
    // Filler is no durable fact; a line said again and again is one note at most.
    expect(summary.facts.filter((f) => !f.key.startsWith('note:'))).toHaveLength(5);
    const notes = summary.facts.filter((f) => f.key.startsWith('note:')).map((f) => f.text);
    expect(new Set(notes).size).toBe(notes.length);
    expect(summary.watermarkSeq).toBe(60);
  });

  it('is deterministic: the same input gives the same summary', async () => {
    const turns = conversation(80, planted);
    expect(await engine.summarize(input(turns))).toEqual(await engine.summarize(input(turns)));
  });

  it('scores recency by seq position over the covered log (1 = the watermark)', async () => {
    const { summary } = await engine.summarize(
      input(conversation(50, { 48: 'My budget is 9,000 euros.', 4: 'My name is Ana Lopes.' })),
    );
    const byKey = Object.fromEntries(summary.facts.map((f) => [f.key, f]));
    expect(byKey['user:budget']?.recency).toBe(0.98);
    expect(byKey['user:name']?.recency).toBe(0.1);
  });

  it('merges with the previous summary: the newer statement of a key wins, others are kept', async () => {
    const first = await engine.summarize(input(conversation(30, planted)));
    const later = conversation(40, { 36: 'My budget is now 15,000 euros.' }).slice(30);
    const { summary } = await engine.summarize(input(later, { previous: first.summary }));
    const budget = summary.facts.filter((f) => f.key === 'user:budget');
    expect(budget).toHaveLength(1);
    expect(budget[0]?.text).toContain('15,000');
    expect(budget[0]?.citations).toEqual([{ seq: 37, ref: 'm-37' }]);
    expect(summary.facts.some((f) => f.key === 'user:name')).toBe(true);
  });

  it('keeps the full form under maxTokens however long the conversation, dropping notes before user facts', async () => {
    const many: Record<number, string> = { 0: 'My name is Priya Raman.' };
    for (let i = 2; i < 2000; i += 3)
      many[i] = `Ticket ${i} was opened on day ${i % 28} with priority ${i % 5}.`;
    const small = { maxTokens: 120, shortMaxTokens: 30 };
    const { summary } = await engine.summarize(input(conversation(2000, many), { caps: small }));
    expect(summary.tokens).toBeLessThanOrEqual(120);
    expect(summary.tokens).toBe(summary.facts.reduce((n, f) => n + f.tokens, 0));
    expect(summary.facts.some((f) => f.key === 'user:name')).toBe(true);
    expect(summary.short.tokens).toBeLessThanOrEqual(30);
    expect(tiktokenCounter.count(summary.short.text)).toBe(summary.short.tokens);
    expect(summary.short.text).toContain('Priya Raman');
  });

  it('bounds the number of facts whatever the token cap, so the session item stays small', async () => {
    const many: Record<number, string> = {};
    for (let i = 0; i < 1200; i += 2) many[i] = `Order ${i} ships on day ${i}.`;
    const { summary } = await engine.summarize(
      input(conversation(1200, many), { caps: { maxTokens: 1_000_000, shortMaxTokens: 250 } }),
    );
    expect(summary.facts).toHaveLength(MAX_SUMMARY_FACTS);
    // The newest are kept when salience ties.
    expect(summary.facts.at(-1)?.citations[0]?.seq).toBe(1199);
  });

  it('cuts an enormous sentence so one fact cannot take the budget', async () => {
    const huge = `My notes are ${'very long and detailed '.repeat(200)}.`;
    const { summary } = await engine.summarize(input(conversation(3, { 0: huge })));
    expect(summary.facts[0]!.text.length).toBeLessThan(340);
  });

  it('returns its extracted candidates before the cap, for long-term memory', async () => {
    const { extracted } = await engine.summarize(
      input(conversation(60, planted), { caps: { maxTokens: 0, shortMaxTokens: 0 } }),
    );
    expect(extracted.map((f) => f.key)).toContain('user:name');
  });
});

describe('the Bedrock answer format', () => {
  const turns = conversation(6, { 2: 'My name is Priya Raman.' });

  it('turns a valid answer into keyed candidates with citations of real seqs and refs', () => {
    const answer =
      '```json\n{"facts":[{"kind":"user","subject":"name","text":"The user is Priya Raman.","seqs":[3]}]}\n```';
    expect(candidatesFromAnswer(answer, input(turns))).toEqual([
      { key: 'user:name', text: 'The user is Priya Raman.', citations: [{ seq: 3, ref: 'm-3' }] },
    ]);
  });

  it('refuses prose, a wrong shape, or a seq that is not in the transcript', () => {
    const bad = [
      'Here is a summary: the user is Priya.',
      '{"facts":[{"kind":"opinion","subject":"x","text":"y","seqs":[1]}]}',
      '{"facts":[{"kind":"user","subject":"name","text":"Priya","seqs":[99]}]}',
    ];
    for (const answer of bad)
      expect(() => candidatesFromAnswer(answer, input(turns))).toThrow(InvalidModelAnswerError);
  });
});

describe('the summarization trigger', () => {
  const ref = { tenantId: 't', sessionId: 's' };
  const settings = {
    ...policySchema.parse(defaultPolicy('r')).summary,
    triggerTokens: 1000,
    historyTurns: 12,
  };
  const sessionOf = (turns: number) =>
    appendTurns(null, ref, {
      turns: Array.from({ length: turns }, (_, i) => ({
        role: 'user' as const,
        content: `t${i}`,
        tokens: 2,
      })),
      at: '2026-01-01T00:00:00.000Z',
      ttlSeconds: 60,
    }).state;

  it('fires on unsummarized tokens', () => {
    expect(needsSummary(sessionOf(5), { ...settings, triggerTokens: 10 })).toBe(true);
    expect(needsSummary(sessionOf(5), settings)).toBe(false);
  });

  it('fires when unsummarized turns would leave the history window before any summary holds them', () => {
    expect(needsSummary(sessionOf(12), settings)).toBe(false);
    expect(needsSummary(sessionOf(13), settings)).toBe(true);
    expect(needsSummary(sessionOf(13), { ...settings, historyTurns: undefined })).toBe(false);
  });
});
