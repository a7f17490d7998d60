import { describe, expect, it } from 'vitest';
import {
  type Candidate,
  compareRanked,
  indexTerms,
  mergeCandidates,
  queryTerms,
  rankCandidates,
  recencyDecay,
  termsOf,
} from '../../lambdas/domain/retrieval';

const DAY = 24 * 3600 * 1000;
const now = new Date('2026-11-24T12:00:00Z');
const opts = { topK: 10, halfLifeDays: 30, pinnedBoost: 2, minScore: 0, now };
const cand = (id: string, tf: Record<string, number>, over: Partial<Candidate> = {}): Candidate => ({
  id,
  tf,
  updatedAtMs: now.getTime(),
  pinned: false,
  length: 6,
  ...over,
});

describe('terms for retrieval', () => {
  it('lowercases, drops accents, stop words and one-letter words, and stems (Porter2)', () => {
    expect(termsOf('The Café orders: shipped, SHIPPING and ships! a b 7')).toEqual([
      'cafe',
      'order',
      'ship',
      'ship',
      'ship',
      '7',
    ]);
    expect(termsOf('policies policy stopped stopping status class')).toEqual([
      'polici',
      'polici',
      'stop',
      'stop',
      'status',
      'class',
    ]);
  });

  it('indexes the most frequent terms first, capped, with the full length', () => {
    const { tf, length } = indexTerms('refund refund refund policy window days refund policy', 2);
    expect(tf).toEqual({ refund: 4, polici: 2 });
    expect(length).toBe(8);
  });

  it('picks distinct query terms deterministically, capped', () => {
    expect(queryTerms('What is the refund window for refunds?')).toEqual(['refund', 'window']);
    // all once: longest first (epsilon), then first seen (alpha, gamma); returned sorted
    expect(queryTerms('alpha beta gamma delta epsilon zeta eta theta iota kappa', 3)).toEqual([
      'alpha',
      'epsilon',
      'gamma',
    ]);
    expect(queryTerms('the of and')).toEqual([]);
  });
});

describe('rankCandidates', () => {
  it('is deterministic: same candidates in any order give the same ids in the same order', () => {
    const cands = [
      cand('f-c', { refund: 2 }),
      cand('f-a', { refund: 1, window: 1 }),
      cand('f-b', { window: 1 }, { updatedAtMs: now.getTime() - 40 * DAY }),
      cand('f-d', {}, { pinned: true }),
    ];
    const first = rankCandidates(['refund', 'window'], cands, opts);
    const shuffled = rankCandidates(['window', 'refund'], [...cands].reverse(), opts);
    expect(shuffled).toEqual(first);
    expect(first.map((r) => r.id)).toEqual(['f-d', 'f-a', 'f-c', 'f-b']);
  });

  it('breaks score ties by id ascending', () => {
    const cands = ['f-9', 'f-1', 'f-5'].map((id) => cand(id, { refund: 1 }));
    const ranked = rankCandidates(['refund'], cands, opts);
    expect(ranked.map((r) => r.id)).toEqual(['f-1', 'f-5', 'f-9']);
    expect(new Set(ranked.map((r) => r.score)).size).toBe(1);
    expect(compareRanked({ id: 'a', score: 1 }, { id: 'b', score: 1 })).toBeLessThan(0);
  });

  it('halves a fact every halfLifeDays, but never a pinned one', () => {
    expect(recencyDecay(now.getTime() - 30 * DAY, now, 30)).toBeCloseTo(0.5, 12);
    expect(recencyDecay(now.getTime() + DAY, now, 30)).toBe(1);
    const fresh = cand('f-new', { refund: 1 });
    const old = cand('f-old', { refund: 1 }, { updatedAtMs: now.getTime() - 60 * DAY });
    const [a, b] = rankCandidates(['refund'], [fresh, old], opts);
    expect(a!.id).toBe('f-new');
    expect(b!.score / a!.score).toBeCloseTo(0.25, 12);
    const pinnedOld = cand('f-pin', { refund: 1 }, { pinned: true, updatedAtMs: now.getTime() - 365 * DAY });
    const ranked = rankCandidates(['refund'], [fresh, pinnedOld], opts);
    expect(ranked[0]).toEqual({ id: 'f-pin', score: 2 + ranked[1]!.score });
  });

  it('drops what does not match, what is under minScore, and keeps top K', () => {
    const cands = [cand('f-1', { refund: 3 }), cand('f-2', { refund: 1 }), cand('f-3', {})];
    expect(rankCandidates(['refund'], cands, opts).map((r) => r.id)).toEqual(['f-1', 'f-2']);
    expect(rankCandidates(['refund'], cands, { ...opts, topK: 1 }).map((r) => r.id)).toEqual(['f-1']);
    const top = rankCandidates(['refund'], cands, opts)[0]!.score;
    expect(rankCandidates(['refund'], cands, { ...opts, minScore: top }).map((r) => r.id)).toEqual(['f-1']);
    expect(rankCandidates(['refund'], cands, { ...opts, topK: 0 })).toEqual([]);
  });

  it('weighs a rare term above a common one', () => {
    const cands = [
      cand('f-common', { order: 1 }),
      cand('f-rare', { escalation: 1 }),
      cand('f-x', { order: 1 }),
      cand('f-y', { order: 1 }),
    ];
    expect(rankCandidates(['escalation', 'order'], cands, opts)[0]!.id).toBe('f-rare');
  });

  it('merges a fact seen through several terms and scopes into one candidate', () => {
    const merged = mergeCandidates([
      cand('f-b', { refund: 1 }),
      cand('f-a', { window: 2 }),
      cand('f-b', { window: 1 }, { pinned: true }),
    ]);
    expect(merged.map((c) => c.id)).toEqual(['f-a', 'f-b']);
    expect(merged[1]).toMatchObject({ pinned: true, tf: { refund: 1, window: 1 } });
  });
});
