import { describe, expect, it } from 'vitest';
import { lineageIdOf, planUpsert } from '../../lambdas/domain/fact-upsert';
import { mergeCandidates, queryTerms } from '../../lambdas/domain/retrieval';
import {
  type HeadItem,
  headCandidates,
  indexKeysOf,
  pinnedCandidate,
  postingCandidate,
  upsertWrites,
  type WriteItems,
} from '../../lambdas/stores/fact-items';
import { keys } from '../../lambdas/stores/keys';

const at = { scope: '*', lineageId: lineageIdOf({ key: 'k', text: '' }) };
/** 40 distinct words: more than the 32 terms a fact is indexed under */
const wide = (tag: string) =>
  Array.from({ length: 40 }, (_, i) => `${tag}${String.fromCharCode(97 + (i % 26))}${i}word`).join(' ');

const keyOf = (w: WriteItems[number]) => {
  const k = (w.Put?.Item ?? w.Delete?.Key ?? w.Update?.Key ?? w.ConditionCheck?.Key) as {
    pk: string;
    sk: string;
  };
  return `${k.pk}|${k.sk}`;
};

function headOf(writes: WriteItems): HeadItem {
  return writes[0]!.Put!.Item as unknown as HeadItem;
}

describe('upsertWrites', () => {
  const first = planUpsert(null, { key: 'k', text: wide('old'), pinned: true }, 50, new Date('2026-01-01'));
  const created = upsertWrites('Facts', 't1', at, null, first);

  it('creates: head (absent before), version item, chain entry, 32 postings and the pin', () => {
    expect(created).toHaveLength(3 + 32 + 1);
    expect(created.slice(0, 3).map((w) => w.Put?.ConditionExpression)).toEqual([
      'attribute_not_exists(pk)',
      'attribute_not_exists(pk)',
      'attribute_not_exists(pk)',
    ]);
    expect(headOf(created)).toMatchObject({ factId: first.fact.id, version: 1, rev: 1, pinned: true });
    expect(new Set(created.map(keyOf)).size).toBe(created.length);
  });

  it('supersedes within one transaction of at most 70 items, each item once, conditioned on the head', () => {
    const head = headOf(created);
    const plan = planUpsert(first.fact, { key: 'k', text: wide('new') }, 50, new Date('2026-02-01'));
    const writes = upsertWrites('Facts', 't1', at, head, plan);
    expect(writes.length).toBeLessThanOrEqual(70);
    expect(writes).toHaveLength(4 + 33 + 33);
    expect(new Set(writes.map(keyOf)).size).toBe(writes.length);
    expect(writes[0]!.Put).toMatchObject({
      ConditionExpression: 'rev = :rev',
      ExpressionAttributeValues: { ':rev': 1 },
    });
    expect(headOf(writes)).toMatchObject({ factId: plan.fact.id, version: 2, rev: 2 });
    const update = writes.find((w) => w.Update)!.Update!;
    expect(update).toMatchObject({
      UpdateExpression: 'SET supersededBy = :by, validUntil = :until',
      ExpressionAttributeValues: { ':by': plan.fact.id, ':until': plan.fact.createdAt },
    });
    // Every index entry of the old version goes, none of the new version's is deleted.
    const deleted = new Set(writes.filter((w) => w.Delete).map(keyOf));
    expect(deleted).toEqual(new Set(indexKeysOf('t1', '*', head).map((k) => `${k.pk}|${k.sk}`)));
    expect([...deleted].every((k) => k.endsWith(first.fact.id))).toBe(true);
  });
});

describe('headCandidates', () => {
  // A small scope: some facts share words, some repeat one (tf > 1), some are pinned, one was superseded.
  const texts = [
    'Ana moved to Porto in May; Porto suits Ana.',
    'Invoices are in euro, invoices go out monthly.',
    'Always answer in Portuguese.',
    'The support tier is gold.',
    'Ana prefers tea over coffee, tea every morning.',
  ];
  const writes = texts.flatMap((text, i) => {
    const at = { scope: 'u1', lineageId: lineageIdOf({ key: `k${i}`, text }) };
    const plan = planUpsert(
      null,
      { key: `k${i}`, text, pinned: i === 2 },
      10,
      new Date(Date.UTC(2026, 0, i + 1)),
    );
    return upsertWrites('Facts', 't1', at, null, plan);
  });
  const heads = writes.map((w) => w.Put?.Item).filter((i) => i && typeof i.rev === 'number') as HeadItem[];
  const items = writes.flatMap((w) => (w.Put ? [w.Put.Item as Record<string, unknown>] : []));

  /** What the postings path reads for these terms: each term's postings, and the pinned list. */
  const fromIndex = (terms: string[]) =>
    mergeCandidates([
      ...terms.flatMap((term) =>
        items
          .filter((i) => i.pk === keys.factTerm('t1', 'u1', term).pk)
          .map((i) => postingCandidate(i, term)),
      ),
      ...items.filter((i) => i.pk === keys.pinnedFacts('t1', 'u1').pk).map(pinnedCandidate),
    ]);

  it.each([
    'Where did Ana move?',
    'what currency are invoices in',
    'tea or coffee for Ana in the morning',
    'nothing matches this',
  ])('gives the candidates the postings and pinned list give: %s', (question) => {
    const terms = queryTerms(question);
    expect(heads).toHaveLength(texts.length);
    const viaHeads = mergeCandidates(headCandidates(heads, terms)!);
    expect(viaHeads).toEqual(fromIndex(terms));
    // Never only the pinned fact, unless nothing else matches.
    expect(viaHeads.some((c) => Object.keys(c.tf).length > 0)).toBe(question !== 'nothing matches this');
  });

  it('counts a repeated term (tf 2) as its postings do', () => {
    const matched = headCandidates(heads, ['tea'])!.filter((c) => !c.pinned);
    expect(matched.map((c) => c.tf)).toEqual([{ tea: 2 }]);
  });

  it('gives up (null) on a head written before term counts were kept', () => {
    const old = heads.map((h, i) => (i === 1 ? { ...h, indexed: { ...h.indexed, counts: undefined } } : h));
    expect(headCandidates(old, ['invoic'])).toBeNull();
  });
});
