import { describe, expect, it } from 'vitest';
import type { StructuredSummary } from '../../lambdas/domain/facts';
import type { StoredTurn } from '../../lambdas/domain/session';
import type { SummarizeInput } from '../../lambdas/domain/summarizer/engine';
import { ExtractiveEngine } from '../../lambdas/domain/summarizer/extractive';
import { analyze, splitSpeaker } from '../../lambdas/domain/summarizer/terms';
import { tiktokenCounter } from '../../lambdas/domain/tokens';

const engine = new ExtractiveEngine(tiktokenCounter);

/** A multi-party chat as the benchmark appends it: role user, "<Speaker>: <text>", one day a turn. */
function chat(lines: string[], firstSeq = 1): StoredTurn[] {
  return lines.map((content, i) => ({
    seq: firstSeq + i,
    role: 'user' as const,
    content,
    ref: `D1:${firstSeq + i}`,
    tokens: 10,
    at: new Date(Date.UTC(2023, 4, 1 + firstSeq + i)).toISOString(),
  }));
}

const summarize = async (
  turns: StoredTurn[],
  over: Partial<SummarizeInput> = {},
): Promise<StructuredSummary> =>
  (
    await engine.summarize({
      sessionId: 's',
      previous: null,
      turns,
      watermarkSeq: turns.at(-1)!.seq,
      caps: { maxTokens: 1000, shortMaxTokens: 100 },
      at: '2023-06-01T00:00:00.000Z',
      ...over,
    })
  ).summary;

const texts = (s: StructuredSummary) => s.facts.map((f) => f.text);
const factOf = (s: StructuredSummary, key: string) => s.facts.find((f) => f.key === key);

const CHATTY = [
  'Caroline: Hey Mel! Good to see you! How have you been?',
  'Melanie: Hey Caroline! I have been swamped with the kids and work.',
  'Caroline: I went to a LGBTQ support group yesterday and it was so powerful.',
  "Melanie: Wow, that's cool, Caroline!",
  'Melanie: I love it.',
  'Caroline: Thanks, Mel! lol',
  "Caroline: That's great!",
  'Melanie: I ran a charity race for mental health last Saturday, it raised 3,000 dollars.',
  'Caroline: That sounds amazing!',
  'Caroline: I want to work with trans youth at the Riverside clinic as a counselor.',
  'Melanie: Yeah, totally!',
  'Caroline: Nice, thanks for sharing!',
];

describe('the extractive engine on real chat', () => {
  it('keeps the content-bearing sentences, with their speaker, and drops the filler', async () => {
    const summary = await summarize(chat(CHATTY));
    expect(texts(summary)).toEqual(
      expect.arrayContaining([
        'Caroline: I went to a LGBTQ support group yesterday and it was so powerful.',
        'Melanie: I ran a charity race for mental health last Saturday, it raised 3,000 dollars.',
        'Caroline: I want to work with trans youth at the Riverside clinic as a counselor.',
      ]),
    );
    for (const filler of [
      'I love it.',
      "That's great!",
      'Thanks, Mel!',
      "Wow, that's cool, Caroline!",
      'That sounds amazing!',
      'Yeah, totally!',
      'Nice, thanks for sharing!',
      'Good to see you!',
    ])
      expect(
        texts(summary).some((t) => t.endsWith(filler)),
        filler,
      ).toBe(false);
    // "I love it" is no preference, and the speaker is no "User".
    expect(summary.facts.some((f) => f.key.includes('prefers'))).toBe(false);
    expect(texts(summary).some((t) => t.startsWith('User:'))).toBe(false);
    const lgbtq = summary.facts.find((f) => f.text.includes('LGBTQ'))!;
    expect(lgbtq.citations).toEqual([{ seq: 3, ref: 'D1:3' }]);
  });

  it('ranks names, numbers and dates above vague sentences when the cap forces a choice', async () => {
    const lines = [
      'Melanie: I have been thinking about things a lot and feeling quite reflective lately.',
      'Melanie: We drove to Yosemite with Grandma Rose on June 12 for 3 nights.',
      'Melanie: Everything has been rather busy and somewhat tiring overall.',
    ];
    const summary = await summarize(chat(lines), { caps: { maxTokens: 25, shortMaxTokens: 25 } });
    expect(texts(summary)).toEqual([
      'Melanie: We drove to Yosemite with Grandma Rose on June 12 for 3 nights.',
    ]);
  });

  it('keeps one of two near-duplicate sentences, and a novel one next to them', async () => {
    const summary = await summarize(
      chat([
        'Melanie: Painting is my way to relax, I painted a lake sunrise last year.',
        'Melanie: I painted a sunrise over the lake last year, painting relaxes me.',
        'Melanie: My daughter Ava starts pottery classes at the community center in September.',
      ]),
    );
    expect(summary.facts.filter((f) => /sunrise/.test(f.text))).toHaveLength(1);
    expect(texts(summary).some((t) => t.includes('pottery classes'))).toBe(true);
  });

  it('does not repeat what the previous summary already says', async () => {
    const first = await summarize(chat(['Melanie: I painted a sunrise over the lake in Tahoe last year.']));
    const next = await summarize(
      chat(
        [
          'Melanie: Last year I painted a sunrise over the lake in Tahoe, you know.',
          'Caroline: My brother Sam is getting married in Denver next spring.',
        ],
        2,
      ),
      { previous: first },
    );
    expect(next.facts.filter((f) => /sunrise/.test(f.text)).map((f) => f.citations)).toEqual([
      [{ seq: 1, ref: 'D1:1' }],
    ]);
    expect(texts(next).some((t) => t.includes('Sam is getting married'))).toBe(true);
  });

  it('dates every fact with the time its newest cited turn was said', async () => {
    const turns = chat(CHATTY);
    const summary = await summarize(turns);
    expect(summary.facts.length).toBeGreaterThan(0);
    for (const f of summary.facts) {
      const cited = turns.find((t) => t.seq === f.citations.at(-1)!.seq)!;
      expect(f.at).toBe(cited.at);
    }
    expect(summary.facts.find((f) => f.text.includes('LGBTQ'))?.at).toBe('2023-05-04T00:00:00.000Z');
  });

  it('is deterministic: the same chat gives the same summary, also under a tight cap', async () => {
    const turns = chat([...CHATTY, ...CHATTY.map((l) => l.replace('yesterday', 'on Sunday'))]);
    const caps = { maxTokens: 60, shortMaxTokens: 30 };
    expect(await summarize(turns, { caps })).toEqual(await summarize(turns, { caps }));
  });
});

describe('supersession: a later statement replaces the old value of the same subject', () => {
  it('moves a speaker: one location fact, the newer value, citing the newer turn', async () => {
    const summary = await summarize(
      chat([
        'Melanie: I live in Boston with my husband.',
        'Caroline: I live in Portland, near the river.',
        'Melanie: We moved from Boston to Lisbon in March.',
      ]),
    );
    expect(factOf(summary, 'user:melanie-location')).toMatchObject({
      text: 'Melanie: We moved from Boston to Lisbon in March.',
      citations: [{ seq: 3, ref: 'D1:3' }],
      at: '2023-05-04T00:00:00.000Z',
    });
    // Caroline's location is hers: untouched.
    expect(factOf(summary, 'user:caroline-location')?.citations).toEqual([{ seq: 2, ref: 'D1:2' }]);
    expect(summary.facts.some((f) => f.citations.some((c) => c.seq === 1))).toBe(false);
  });

  it('replaces a value from the previous summary ("I now live in", "I changed jobs", a new pet)', async () => {
    const first = await summarize(
      chat([
        'I live in Boston.',
        'I work at Globex as an accountant.',
        'My dog is Rex, a beagle.',
        'My budget is 12,000 euros.',
      ]),
    );
    const next = await summarize(
      chat(
        [
          'I now live in Lisbon.',
          'I changed jobs: I started working as a nurse at Santa Maria hospital.',
          'We got a new puppy named Max.',
        ],
        5,
      ),
      { previous: first },
    );
    expect(factOf(next, 'user:location')).toMatchObject({
      text: 'User: I now live in Lisbon.',
      citations: [{ seq: 5, ref: 'D1:5' }],
    });
    expect(factOf(next, 'user:work')?.text).toContain('nurse');
    expect(factOf(next, 'user:work')?.citations).toEqual([{ seq: 6, ref: 'D1:6' }]);
    expect(factOf(next, 'user:dog')?.text).toContain('Max');
    expect(texts(next).some((t) => /Boston|Globex|Rex/.test(t))).toBe(false);
    // Untouched subjects stay, with the time they were said.
    expect(factOf(next, 'user:budget')).toMatchObject({
      citations: [{ seq: 4 }],
      at: '2023-05-05T00:00:00.000Z',
    });
  });

  it('applies a correction ("actually, it\'s X, not Y") to the fact that said Y, for that speaker', async () => {
    const summary = await summarize(
      chat([
        'Caroline: I adopted a dog named Oscar.',
        'Melanie: Our cat is named Oscar too.',
        "Caroline: Actually, it's Oliver, not Oscar.",
      ]),
    );
    expect(factOf(summary, 'user:caroline-dog')).toMatchObject({
      text: "Caroline: Actually, it's Oliver, not Oscar.",
      citations: [{ seq: 3, ref: 'D1:3' }],
    });
    expect(factOf(summary, 'user:melanie-cat')?.citations).toEqual([{ seq: 2, ref: 'D1:2' }]);
  });
});

describe('sentence analysis', () => {
  it('splits a "Name:" speaker off, and does not count speakers as names', () => {
    expect(splitSpeaker('Melanie: I love it.')).toEqual({ speaker: 'Melanie', body: 'I love it.' });
    expect(splitSpeaker('I love it: really.')).toEqual({ speaker: null, body: 'I love it: really.' });
    const speakers = new Set(['melanie', 'caroline']);
    expect(analyze('Thanks, Caroline! Bye Mel', speakers)).toMatchObject({ terms: [], names: 0 });
    expect(analyze('We flew to Lisbon on Friday, 3 hours late.', speakers)).toMatchObject({
      names: 1,
      numbers: 1,
      dates: 1,
    });
  });
});
