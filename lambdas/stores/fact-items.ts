import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { UpsertPlan } from '../domain/fact-upsert';
import type { Fact } from '../domain/facts';
import { type Candidate, indexTerms } from '../domain/retrieval';
import { keys } from './keys';

/**
 * The items of the facts table (layout in keys.ts) and the one transaction that writes a version:
 * what FactStore reads and writes, kept apart from the I/O.
 */

/** A DynamoDB key of the facts table (every item there has pk and sk). */
export interface FactItemKey {
  pk: string;
  sk: string;
}

/** Where a fact's lineage lives: what a deletion needs to find every version of it. */
export interface FactLocation {
  scope: string;
  lineageId: string;
}

/** A version's item: the Fact and the lineage it belongs to. */
export interface FactItem extends Fact {
  lineageId: string;
}

/** A lineage's head: its current version and what that version is indexed under. */
export interface HeadItem {
  lineageId: string;
  factId: string;
  version: number;
  /** +1 on every write to the lineage: the condition that serializes writers */
  rev: number;
  pinned: boolean;
  /** `counts[i]` is the frequency of `terms[i]` (absent in heads written before it was kept) */
  indexed: { terms: string[]; counts?: number[]; length: number; atMs: number };
}

export type WriteItems = NonNullable<TransactWriteCommandInput['TransactItems']>;

/** The one transaction of an upsert (at most 70 of DynamoDB's 100 items: 33 index entries out, 33 in). */
export function upsertWrites(
  table: string,
  tenantId: string,
  at: FactLocation,
  head: HeadItem | null,
  plan: UpsertPlan,
): WriteItems {
  const { fact } = plan;
  const { tf, length } = indexTerms(fact.text);
  const terms = Object.keys(tf).sort();
  const next: HeadItem = {
    lineageId: at.lineageId,
    factId: fact.id,
    version: fact.version,
    rev: (head?.rev ?? 0) + 1,
    pinned: fact.pinned,
    indexed: { terms, counts: terms.map((t) => tf[t]!), length, atMs: Date.parse(fact.updatedAt) },
  };
  const put = (
    Item: Record<string, unknown>,
    ConditionExpression: string,
    values?: Record<string, unknown>,
  ) => ({
    Put: {
      TableName: table,
      Item,
      ConditionExpression,
      ...(values ? { ExpressionAttributeValues: values } : {}),
    },
  });
  const items: WriteItems = [
    head
      ? put({ ...keys.factHead(tenantId, at.scope, at.lineageId), ...next }, 'rev = :rev', {
          ':rev': head.rev,
        })
      : put({ ...keys.factHead(tenantId, at.scope, at.lineageId), ...next }, 'attribute_not_exists(pk)'),
    put({ ...keys.fact(tenantId, fact.id), ...fact, lineageId: at.lineageId }, 'attribute_not_exists(pk)'),
    put(
      {
        ...keys.factVersion(tenantId, at.scope, at.lineageId, fact.version),
        lineageId: at.lineageId,
        factId: fact.id,
        version: fact.version,
      },
      'attribute_not_exists(pk)',
    ),
  ];
  if (plan.outcome === 'superseded') {
    // Only the lifecycle fields: the old version's content is never written again (a deletion may
    // have stripped citations from it since it was read).
    const { previous } = plan;
    items.push({
      Update: {
        TableName: table,
        Key: keys.fact(tenantId, previous.id),
        UpdateExpression: 'SET supersededBy = :by, validUntil = :until',
        ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(supersededBy)',
        ExpressionAttributeValues: { ':by': previous.supersededBy, ':until': previous.validUntil },
      },
    });
  }
  // The index follows the head: the old current version's entries out, the new one's in (the
  // version id is in every index key, so the two sets never share an item).
  const stale = head ? indexKeysOf(tenantId, at.scope, head) : [];
  const entries = indexEntriesOf(tenantId, at.scope, next, tf);
  items.push(
    ...stale.map((Key) => ({ Delete: { TableName: table, Key } })),
    ...entries.map((Item) => ({ Put: { TableName: table, Item } })),
  );
  return items;
}

/** The postings and pinned entry a head's current version is indexed under (with their attributes). */
export function indexEntriesOf(tenantId: string, scope: string, head: HeadItem, tf: Record<string, number>) {
  const { terms, length, atMs } = head.indexed;
  const postings = terms.map((term) => ({
    ...keys.factPosting(tenantId, scope, term, atMs, head.factId),
    factId: head.factId,
    tf: tf[term],
    len: length,
    at: atMs,
    pinned: head.pinned,
  }));
  const pin = head.pinned
    ? [{ ...keys.pinnedFact(tenantId, scope, head.factId), factId: head.factId, len: length, at: atMs }]
    : [];
  return [...postings, ...pin];
}

/** A postings item read for `term`, as a ranking candidate. */
export const postingCandidate = (item: Record<string, unknown>, term: string): Candidate => ({
  id: item.factId as string,
  updatedAtMs: item.at as number,
  pinned: item.pinned === true,
  length: item.len as number,
  tf: { [term]: item.tf as number },
});

/** A pinned-list item as a ranking candidate (matched by no term: pinned facts always are). */
export const pinnedCandidate = (item: Record<string, unknown>): Candidate => ({
  id: item.factId as string,
  updatedAtMs: item.at as number,
  pinned: true,
  length: item.len as number,
  tf: {},
});

/**
 * A scope's candidates from its heads instead of its postings and pinned list: the same candidates,
 * with the same values, since a head records what its version's entries were written from. Heads
 * without term counts (written before they were kept) cannot be ranked this way: null.
 */
export function headCandidates(heads: HeadItem[], terms: string[]): Candidate[] | null {
  const wanted = new Set(terms);
  const out: Candidate[] = [];
  for (const head of heads) {
    const { counts, length, atMs } = head.indexed;
    if (!counts) return null;
    const tf: Record<string, number> = {};
    head.indexed.terms.forEach((term, i) => {
      if (wanted.has(term)) tf[term] = counts[i]!;
    });
    if (head.pinned || Object.keys(tf).length) {
      out.push({ id: head.factId, updatedAtMs: atMs, pinned: head.pinned, length, tf });
    }
  }
  return out;
}

/** Just the keys of those entries (what a write replaces and a deletion removes). */
export function indexKeysOf(tenantId: string, scope: string, head: HeadItem): FactItemKey[] {
  const { terms, atMs } = head.indexed;
  return [
    ...terms.map((term) => keys.factPosting(tenantId, scope, term, atMs, head.factId)),
    ...(head.pinned ? [keys.pinnedFact(tenantId, scope, head.factId)] : []),
  ];
}

export const isHead = (item: Record<string, unknown>): item is Record<string, unknown> & HeadItem =>
  typeof item.rev === 'number';

/** The API's Fact: the item without its keys and the store's own bookkeeping. */
export function toFact(item: FactItem | Record<string, unknown>): Fact {
  const {
    pk: _pk,
    sk: _sk,
    lineageId: _lineageId,
    ...fact
  } = item as FactItem & { pk?: string; sk?: string };
  return fact;
}
