import { describe, expect, it } from 'vitest';
import {
  factHistoryQuerySchema,
  factInputSchema,
  lineageIdOf,
  mergeCitations,
  planUpsert,
  versionIdOf,
} from '../../lambdas/domain/fact-upsert';
import { type Fact, isCurrent } from '../../lambdas/domain/facts';

const now = new Date('2026-11-24T12:00:00Z');
const later = new Date('2026-11-25T08:30:00Z');
const input = { key: 'plan', text: 'User is on the Pro plan', citations: [{ sessionId: 's1', seq: 3 }] };

describe('fact lineages and version ids', () => {
  it('derives the lineage from scope and key, or scope and whitespace-collapsed text', () => {
    expect(lineageIdOf(input)).toBe(lineageIdOf({ ...input, text: 'other text' }));
    expect(lineageIdOf(input)).not.toBe(lineageIdOf({ ...input, userId: 'u1' }));
    expect(lineageIdOf({ ...input, sessionId: 's1' })).not.toBe(lineageIdOf(input));
    expect(lineageIdOf({ text: 'a  b' })).toBe(lineageIdOf({ text: ' a b' }));
    expect(lineageIdOf(input)).toMatch(/^f-[0-9a-f]{32}$/);
  });

  it('names a version by its lineage and position', () => {
    expect(versionIdOf('f-ab', 3)).toBe('f-ab-v3');
    expect(planUpsert(null, input, 7, now).fact.id).toBe(`${lineageIdOf(input)}-v1`);
  });
});

describe('planUpsert', () => {
  const first = planUpsert(null, input, 7, now).fact;

  it('creates version 1, valid from now, superseding nothing', () => {
    const plan = planUpsert(null, input, 7, now);
    expect(plan).toMatchObject({
      outcome: 'created',
      deduplicated: false,
      fact: { version: 1, tokens: 7, pinned: false },
    });
    expect(plan.fact.createdAt).toBe(now.toISOString());
    expect(plan.fact).not.toHaveProperty('supersedes');
  });

  it('leaves a restatement alone, whitespace and repeated citations included', () => {
    const same = planUpsert(first, { ...input, text: '  User is on the   Pro plan ' }, 7, later);
    expect(same).toEqual({ outcome: 'unchanged', fact: first, deduplicated: true });
  });

  it('supersedes on new text: a new id and version, the old one closed at the same instant', () => {
    const plan = planUpsert(first, { ...input, text: 'User is on Team', citations: [{ seq: 9 }] }, 4, later);
    if (plan.outcome !== 'superseded') throw new Error(`expected superseded, got ${plan.outcome}`);
    expect(plan.fact).toMatchObject({
      id: versionIdOf(lineageIdOf(input), 2),
      key: 'plan',
      version: 2,
      text: 'User is on Team',
      tokens: 4,
      citations: [{ seq: 9 }],
      supersedes: first.id,
      createdAt: later.toISOString(),
      updatedAt: later.toISOString(),
    });
    expect(plan.previous).toEqual({ ...first, supersededBy: plan.fact.id, validUntil: later.toISOString() });
    expect(isCurrent(plan.previous)).toBe(false);
    expect(isCurrent(plan.fact)).toBe(true);
    expect(plan.deduplicated).toBe(false);
  });

  it('keeps the old citations and pin when the new text brings none', () => {
    const pinned = { ...first, pinned: true };
    const plan = planUpsert(pinned, { key: 'plan', text: 'User is on Team' }, 4, later);
    expect(plan.fact).toMatchObject({ citations: first.citations, pinned: true, version: 2 });
  });

  it('chains: version 3 supersedes version 2 and carries no stale lifecycle fields', () => {
    const v2 = planUpsert(first, { ...input, text: 'Team' }, 1, later).fact;
    const v3 = planUpsert(v2, { ...input, text: 'Enterprise' }, 1, later);
    expect(v3.fact).toMatchObject({ version: 3, supersedes: v2.id, id: versionIdOf(lineageIdOf(input), 3) });
    expect(v3.fact).not.toHaveProperty('supersededBy');
    expect(v3.fact).not.toHaveProperty('validUntil');
  });

  it('never dates a version before the one it supersedes, whatever the clock says', () => {
    const v2 = planUpsert(first, { ...input, text: 'Team' }, 1, new Date('2020-01-01T00:00:00Z'));
    if (v2.outcome !== 'superseded') throw new Error('expected superseded');
    expect(v2.fact.createdAt).toBe(first.updatedAt);
    expect(v2.previous.validUntil).toBe(first.updatedAt);
  });

  it('makes a new version of the same value for new citations or another pin: versions never change', () => {
    const cited = planUpsert(
      first,
      { ...input, text: 'User is on the  Pro plan', citations: [{ seq: 5 }, { sessionId: 's1', seq: 3 }] },
      9,
      later,
    );
    if (cited.outcome !== 'superseded') throw new Error(`expected superseded, got ${cited.outcome}`);
    expect(cited.deduplicated).toBe(true);
    expect(cited.fact).toMatchObject({
      id: versionIdOf(lineageIdOf(input), 2),
      version: 2,
      text: first.text,
      tokens: first.tokens,
      supersedes: first.id,
      createdAt: later.toISOString(),
    });
    expect(cited.fact.citations).toEqual([{ sessionId: 's1', seq: 3 }, { seq: 5 }]);
    expect(cited.previous).toMatchObject({ ...first, supersededBy: cited.fact.id });
    const pinned = planUpsert(first, { ...input, pinned: true }, 7, later);
    expect(pinned).toMatchObject({
      outcome: 'superseded',
      deduplicated: true,
      fact: { version: 2, pinned: true },
    });
  });

  it('caps merged citations, oldest dropped first', () => {
    expect(mergeCitations(Array.from({ length: 40 }, (_, seq) => ({ seq }))).map((c) => c.seq)[0]).toBe(8);
  });
});

describe('fact input and history query rules', () => {
  it('refuses empty text, ids with # and unknown fields', () => {
    expect(factInputSchema.safeParse({ text: '  ' }).success).toBe(false);
    expect(factInputSchema.safeParse({ text: 'x', userId: 'a#b' }).success).toBe(false);
    expect(factInputSchema.safeParse({ text: 'x', extra: 1 }).success).toBe(false);
  });

  it('pages the history: 20 by default, 1 to 100, `before` a positive version', () => {
    expect(factHistoryQuerySchema.parse({})).toEqual({ limit: 20 });
    expect(factHistoryQuerySchema.parse({ limit: '5', before: '7' })).toEqual({ limit: 5, before: 7 });
    for (const bad of [
      { limit: '0' },
      { limit: '101' },
      { before: '0' },
      { before: 'x' },
      { before: '1e11' },
    ])
      expect(factHistoryQuerySchema.safeParse(bad).success).toBe(false);
  });
});

describe('isCurrent', () => {
  it('serves only versions nothing superseded', () => {
    const fact = planUpsert(null, input, 1, now).fact satisfies Fact;
    expect(isCurrent(fact)).toBe(true);
    expect(isCurrent({ ...fact, supersededBy: 'f-x-v2' })).toBe(false);
  });
});
