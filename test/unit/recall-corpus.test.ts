import { describe, expect, it } from 'vitest';
import { terms } from '../../bench/recall-baselines';
import { generateCorpus, questionTypes } from '../../bench/recall-corpus';

// The recall benchmark compares figures across runs and branches: its corpus must be a pure
// function of the seed, and its questions must point at evidence that exists and is unambiguous.
describe('recall benchmark corpus', () => {
  const corpus = generateCorpus({ conversations: 3, seed: 7 });

  it('is the same for the same seed and differs for another', () => {
    expect(generateCorpus({ conversations: 3, seed: 7 })).toEqual(corpus);
    expect(generateCorpus({ conversations: 3, seed: 8 })).not.toEqual(corpus);
  });

  it('asks every type of question, about evidence turns that exist and are unique', () => {
    for (const conv of corpus) {
      expect(new Set(conv.questions.map((q) => q.type))).toEqual(new Set(questionTypes));
      expect(conv.turns.length).toBeGreaterThanOrEqual(400);
      const byId = new Map(conv.turns.map((t) => [t.id, t]));
      expect(byId.size).toBe(conv.turns.length);
      for (const q of conv.questions) {
        for (const id of q.evidence) {
          const turn = byId.get(id);
          expect(turn, `${conv.id} ${q.question}: ${id}`).toBeDefined();
          // the benchmark finds evidence by its text: no other turn may carry the same text
          expect(conv.turns.filter((t) => t.text === turn!.text)).toHaveLength(1);
        }
      }
    }
  });

  it('keeps time moving forward', () => {
    for (const conv of corpus) {
      const times = conv.turns.map((t) => Date.parse(t.at));
      expect(times).toEqual([...times].sort((a, b) => a - b));
    }
  });

  it('words paraphrased questions apart from their evidence (no shared term but the speaker)', () => {
    for (const conv of corpus) {
      const names = new Set(conv.speakers.flatMap((n) => terms(n)));
      for (const q of conv.questions.filter((x) => x.type === 'paraphrased')) {
        const evidence = new Set(
          q.evidence.flatMap((id) => terms(conv.turns.find((t) => t.id === id)!.text)),
        );
        const shared = terms(q.question).filter((t) => evidence.has(t) && !names.has(t));
        expect(shared, q.question).toEqual([]);
      }
    }
  });
});
