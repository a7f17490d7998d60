import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { env } from '../config';
import { StoreUnavailableError } from '../domain/errors';
import { lineageIdOf, planUpsert, scopeOf } from '../domain/fact-upsert';
import {
  type Citation,
  type Fact,
  type FactHistoryPage,
  type FactInput,
  type FactWriter,
  isCurrent,
} from '../domain/facts';
import {
  type Candidate,
  type FactQuery,
  mergeCandidates,
  queryTerms,
  rankCandidates,
  type ScoredFact,
} from '../domain/retrieval';
import { type TokenCounter, tiktokenCounter } from '../domain/tokens';
import { dynamo } from './clients';
import {
  type FactItem,
  type FactItemKey,
  type FactLocation,
  type HeadItem,
  headCandidates,
  indexKeysOf,
  isHead,
  pinnedCandidate,
  postingCandidate,
  toFact,
  upsertWrites,
  type WriteItems,
} from './fact-items';
import { keys } from './keys';

export type { FactItemKey, FactLocation } from './fact-items';

export const factStoreLimits = {
  /** postings read per (term, scope): the newest this many facts that contain the term */
  postingsPerTerm: 200,
  /** pinned facts read per scope */
  pinnedPerScope: 100,
  /** retries of an upsert that lost a race on the same lineage */
  maxUpsertRetries: 10,
  /** items per Query page when listing a scope's or a chain's items */
  listPage: 100,
  /** a scope whose lineages partition (heads and versions) holds fewer items than this is ranked
   * from one Query of it; a larger one from its postings and pinned list */
  wholeScopeItems: 100,
  /** scopes a warm store remembers as larger than that (then cleared and learnt again) */
  knownLarge: 10_000,
} as const;

/**
 * Facts, their versions and their lexical inverted index in one table (layout in keys.ts). Every
 * write to a lineage is one transaction conditioned on its head's revision: the new version, the old
 * one marked superseded, the head moved, the old version's postings and pinned entry deleted and the
 * new one's written. So concurrent writers of one key form one linear chain, and the index only ever
 * points at current versions. search() reads, per scope, its lineages partition in one Query when it
 * is small (most are: empty, or a session's few dozen facts), else the query terms' postings
 * partitions and the pinned partition: never all of a tenant's facts.
 */
export class FactStore implements FactWriter {
  /**
   * Scopes seen too large to read whole: their search goes straight to the postings. Only "large" is
   * remembered, never "small" or "empty", so a fact written after a search is found by the next; a
   * remembered scope that has shrunk since is still searched correctly, by its postings.
   */
  private readonly largeScopes = new Set<string>();

  constructor(
    private readonly table = env('factsTable'),
    private readonly db: DynamoDBDocumentClient = dynamo(),
    private readonly tokens: TokenCounter = tiktokenCounter,
  ) {}

  async upsert(tenantId: string, input: FactInput): Promise<{ fact: Fact; deduplicated: boolean }> {
    const tokens = this.tokens.count(input.text);
    const at = { scope: scopeOf(input.userId, input.sessionId), lineageId: lineageIdOf(input) };
    for (let attempt = 0; ; attempt++) {
      const head = await this.head(tenantId, at);
      const current = head ? await this.read(tenantId, head.factId) : null;
      try {
        // A head without its version: a deletion is under way; wait for it like for a racing writer.
        if (head && !current) throw new LineageInFlux(at.lineageId);
        const plan = planUpsert(current ? toFact(current) : null, input, tokens, new Date());
        if (plan.outcome === 'unchanged') return { fact: plan.fact, deduplicated: true };
        await this.db.send(
          new TransactWriteCommand({ TransactItems: upsertWrites(this.table, tenantId, at, head, plan) }),
        );
        return { fact: plan.fact, deduplicated: plan.deduplicated };
      } catch (err) {
        if (!(lostRace(err) || err instanceof LineageInFlux)) throw err;
        if (attempt >= factStoreLimits.maxUpsertRetries) {
          if (err instanceof LineageInFlux) throw new StoreUnavailableError('facts', err);
          throw err;
        }
        // Jittered backoff so writers racing on one fact (a summarizer burst) spread out.
        await new Promise((r) => setTimeout(r, Math.random() * 5 * 2 ** Math.min(attempt, 6)));
      }
    }
  }

  async search(tenantId: string, q: FactQuery): Promise<ScoredFact[]> {
    if (q.topK <= 0) return [];
    const terms = queryTerms(q.query);
    // The tenant's facts, the user's, and the session's own (drawn from it while it had no user).
    const scopes = [
      scopeOf(),
      ...(q.userId ? [scopeOf(q.userId)] : []),
      ...(q.sessionId ? [scopeOf(undefined, q.sessionId)] : []),
    ];
    const lists = await Promise.all(scopes.map((scope) => this.candidates(tenantId, scope, terms)));
    const ranked = rankCandidates(terms, mergeCandidates(lists.flat(2)), q);
    const facts = await this.batchGet(
      tenantId,
      ranked.map((r) => r.id),
    );
    // Between the two reads a fact may have been superseded (left out: history is never served, and
    // its successor was not among the postings read) or deleted (left out). Versions never change.
    return ranked.flatMap((r) => {
      const fact = facts.get(r.id);
      return fact && isCurrent(fact) ? [{ fact, score: r.score }] : [];
    });
  }

  /** One version by id, current or superseded (the API's answer after a write, and tests). */
  async get(tenantId: string, factId: string): Promise<Fact | null> {
    const item = await this.read(tenantId, factId);
    return item ? toFact(item) : null;
  }

  /** The current version of the lineage an input lands on (same scope and key, or same unkeyed text). */
  async current(
    tenantId: string,
    of: Pick<FactInput, 'userId' | 'sessionId' | 'key' | 'text'>,
  ): Promise<Fact | null> {
    const head = await this.head(tenantId, {
      scope: scopeOf(of.userId, of.sessionId),
      lineageId: lineageIdOf(of),
    });
    return head ? this.get(tenantId, head.factId) : null;
  }

  /**
   * The chain of the lineage `factId` belongs to, newest version first, `limit` versions below
   * `before` (all when absent); null when no version has that id.
   */
  async history(
    tenantId: string,
    factId: string,
    page: { limit: number; before?: number },
  ): Promise<FactHistoryPage | null> {
    const at = await this.locate(tenantId, factId);
    if (!at) return null;
    const { pk } = keys.factScope(tenantId, at.scope);
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': pk, ':prefix': keys.factVersionsPrefix(at.lineageId) },
        ...(page.before !== undefined
          ? { ExclusiveStartKey: keys.factVersion(tenantId, at.scope, at.lineageId, page.before) }
          : {}),
        // One more than the page: whether a next page exists, without an empty last page.
        Limit: page.limit + 1,
        ConsistentRead: true,
      }),
    );
    const entries = (out.Items ?? []).slice(0, page.limit) as { factId: string; version: number }[];
    const facts = await this.batchGet(
      tenantId,
      entries.map((e) => e.factId),
    );
    const more = (out.Items ?? []).length > page.limit;
    return {
      facts: entries.flatMap((e) => facts.get(e.factId) ?? []),
      ...(more ? { next: entries.at(-1)!.version } : {}),
    };
  }

  /**
   * Replaces one version's citations in place (a deletion taking a session's citations out of a fact
   * that other sessions back too): the one change a version ever gets besides being superseded. When
   * it is the current version, the head's revision moves in the same transaction, so an upsert that
   * read the old citations retries on the new ones instead of carrying them into its new version.
   * False when no version has that id.
   */
  async replaceCitations(tenantId: string, factId: string, citations: Citation[]): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      const item = await this.read(tenantId, factId);
      if (!item) return false;
      const at = { scope: scopeOf(item.userId, item.sessionId), lineageId: item.lineageId };
      const update: WriteItems[number] = {
        Update: {
          TableName: this.table,
          Key: keys.fact(tenantId, factId),
          UpdateExpression: 'SET citations = :c',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':c': citations },
        },
      };
      const bump: WriteItems = isCurrent(item)
        ? [
            {
              Update: {
                TableName: this.table,
                Key: keys.factHead(tenantId, at.scope, at.lineageId),
                UpdateExpression: 'SET rev = rev + :one',
                ConditionExpression: 'factId = :id',
                ExpressionAttributeValues: { ':one': 1, ':id': factId },
              },
            },
          ]
        : [];
      try {
        await this.db.send(new TransactWriteCommand({ TransactItems: [update, ...bump] }));
        return true;
      } catch (err) {
        // Superseded (or deleted) between the read and the write: read again.
        if (!lostRace(err) || attempt >= factStoreLimits.maxUpsertRetries) throw err;
        await new Promise((r) => setTimeout(r, Math.random() * 5 * 2 ** Math.min(attempt, 6)));
      }
    }
  }

  /** The scope and lineage of a version (null: no such version); a deletion keeps it to resume. */
  async locate(tenantId: string, factId: string): Promise<FactLocation | null> {
    const item = await this.read(tenantId, factId);
    return item ? { scope: scopeOf(item.userId, item.sessionId), lineageId: item.lineageId } : null;
  }

  /**
   * Every item of a scope's facts, one page of its FACTS partition at a time: every version
   * (current and superseded), the postings and pinned entries of the current ones, the heads and
   * chain entries. Within a page, an item comes before the item it was found through, so deleting
   * each page in order leaves nothing unfindable after a crash: a re-run finds the rest.
   */
  scopeItemKeys(tenantId: string, scope: string): AsyncGenerator<FactItemKey[]> {
    return this.itemKeys(tenantId, scope, { pk: keys.factScope(tenantId, scope).pk });
  }

  /** The same for one lineage: all its versions, its head, the current version's index entries. */
  chainItemKeys(tenantId: string, at: FactLocation): AsyncGenerator<FactItemKey[]> {
    return this.itemKeys(tenantId, at.scope, {
      pk: keys.factScope(tenantId, at.scope).pk,
      prefix: keys.factChainPrefix(at.lineageId),
    });
  }

  /** Every version of a scope's facts (current and superseded), one page at a time. */
  async *scopeFacts(tenantId: string, scope: string): AsyncGenerator<Fact[]> {
    for await (const items of this.listing(keys.factScope(tenantId, scope).pk)) {
      const ids = items.filter((i) => !isHead(i)).map((i) => i.factId as string);
      const facts = await this.batchGet(tenantId, ids);
      yield ids.flatMap((id) => facts.get(id) ?? []);
    }
  }

  private async *itemKeys(
    tenantId: string,
    scope: string,
    where: { pk: string; prefix?: string },
  ): AsyncGenerator<FactItemKey[]> {
    for await (const items of this.listing(where.pk, where.prefix)) {
      const found: FactItemKey[] = [];
      for (const item of items) {
        if (isHead(item)) found.push(...indexKeysOf(tenantId, scope, item));
        else found.push(keys.fact(tenantId, item.factId as string));
      }
      yield [...found, ...items.map((i) => ({ pk: i.pk as string, sk: i.sk as string }))];
    }
  }

  private async *listing(pk: string, prefix?: string): AsyncGenerator<Record<string, unknown>[]> {
    let start: QueryCommandInput['ExclusiveStartKey'];
    do {
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: prefix ? 'pk = :pk AND begins_with(sk, :prefix)' : 'pk = :pk',
          ExpressionAttributeValues: { ':pk': pk, ...(prefix ? { ':prefix': prefix } : {}) },
          Limit: factStoreLimits.listPage,
          ExclusiveStartKey: start,
          ConsistentRead: true,
        }),
      );
      if ((out.Items ?? []).length > 0) yield out.Items!;
      start = out.LastEvaluatedKey;
    } while (start);
  }

  private async head(tenantId: string, at: FactLocation): Promise<HeadItem | null> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: keys.factHead(tenantId, at.scope, at.lineageId),
        ConsistentRead: true,
      }),
    );
    return out.Item ? (out.Item as HeadItem) : null;
  }

  private async read(tenantId: string, factId: string): Promise<FactItem | null> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: keys.fact(tenantId, factId), ConsistentRead: true }),
    );
    return out.Item ? (out.Item as FactItem) : null;
  }

  /**
   * A scope's candidates for the query terms: from its heads when one Query page holds its whole
   * lineages partition (1 request), else from its postings lists and pinned facts (1 per term + 1).
   */
  private async candidates(tenantId: string, scope: string, terms: string[]): Promise<Candidate[][]> {
    const known = `${tenantId}\u0000${scope}`;
    if (!this.largeScopes.has(known)) {
      const whole = await this.page(keys.factScope(tenantId, scope).pk, factStoreLimits.wholeScopeItems);
      const heads = (whole.Items ?? []).filter(isHead);
      const fromHeads = whole.LastEvaluatedKey ? null : headCandidates(heads, terms);
      if (fromHeads) return [fromHeads];
      if (this.largeScopes.size >= factStoreLimits.knownLarge) this.largeScopes.clear();
      this.largeScopes.add(known);
    }
    return Promise.all([
      ...terms.map((term) => this.postings(tenantId, scope, term)),
      this.pinned(tenantId, scope),
    ]);
  }

  private async postings(tenantId: string, scope: string, term: string): Promise<Candidate[]> {
    const out = await this.page(keys.factTerm(tenantId, scope, term).pk, factStoreLimits.postingsPerTerm);
    return (out.Items ?? []).map((i) => postingCandidate(i, term));
  }

  private async pinned(tenantId: string, scope: string): Promise<Candidate[]> {
    const out = await this.page(keys.pinnedFacts(tenantId, scope).pk, factStoreLimits.pinnedPerScope);
    return (out.Items ?? []).map(pinnedCandidate);
  }

  /** A partition's first `limit` items, read consistently. */
  private page(pk: string, limit: number) {
    return this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        Limit: limit,
        ConsistentRead: true,
      }),
    );
  }

  private async batchGet(tenantId: string, ids: string[]): Promise<Map<string, Fact>> {
    const found = new Map<string, Fact>();
    let pending = ids.map((id) => keys.fact(tenantId, id));
    for (let round = 0; pending.length > 0 && round < 5; round++) {
      const chunk = pending.slice(0, 100);
      const out = await this.db.send(
        new BatchGetCommand({ RequestItems: { [this.table]: { Keys: chunk, ConsistentRead: true } } }),
      );
      for (const item of out.Responses?.[this.table] ?? []) {
        const fact = toFact(item as FactItem);
        found.set(fact.id, fact);
      }
      const unprocessed = (out.UnprocessedKeys?.[this.table]?.Keys ?? []) as typeof pending;
      pending = [...unprocessed, ...pending.slice(100)];
      if (unprocessed.length > 0) await new Promise((r) => setTimeout(r, 20 * 2 ** round));
    }
    // Never a silently shorter answer: keys DynamoDB still would not serve make the read fail (the
    // context builder then reports the facts source as degraded).
    if (pending.length > 0)
      throw new StoreUnavailableError('facts', new Error(`${pending.length} facts unread`));
    return found;
  }
}

/** The head moved under us (another writer, or a deletion under way): read again and retry. */
class LineageInFlux extends Error {
  constructor(lineageId: string) {
    super(`fact ${lineageId} has a head without its current version`);
  }
}

/** A concurrent write to the same lineage won (condition failed or transaction conflict): read again. */
function lostRace(err: unknown): boolean {
  if (!(err instanceof TransactionCanceledException)) return false;
  return (err.CancellationReasons ?? []).some(
    (r) => r.Code === 'ConditionalCheckFailed' || r.Code === 'TransactionConflict',
  );
}
