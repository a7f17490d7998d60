import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { env } from '../config';
import { StoreUnavailableError } from '../domain/errors';
import { factIdOf, planUpsert, scopeOf } from '../domain/fact-upsert';
import type { Fact, FactInput, FactWriter } from '../domain/facts';
import {
  type Candidate,
  type FactQuery,
  indexTerms,
  mergeCandidates,
  queryTerms,
  rankCandidates,
  type ScoredFact,
} from '../domain/retrieval';
import { type TokenCounter, tiktokenCounter } from '../domain/tokens';
import { dynamo } from './clients';
import { keys } from './keys';

export const factStoreLimits = {
  /** postings read per (term, scope): the newest this many facts that contain the term */
  postingsPerTerm: 200,
  /** pinned facts read per scope */
  pinnedPerScope: 100,
  /** retries of an upsert that lost a race on the same fact */
  maxUpsertRetries: 5,
} as const;

/** What the fact item keeps besides the Fact: what it is indexed under, to remove it on replace. */
interface FactItem extends Fact {
  indexed: { terms: string[]; length: number; atMs: number };
}

type WriteItems = NonNullable<TransactWriteCommandInput['TransactItems']>;

/**
 * Facts and their lexical inverted index in one table. A fact's item and its postings (one per
 * indexed term, in its scope's term partition, newest first) are written in one transaction, and the
 * postings of the version it replaces are deleted in the same transaction. search() reads only the
 * query terms' postings partitions and the pinned partition, never all of a tenant's facts.
 */
export class FactStore implements FactWriter {
  constructor(
    private readonly table = env('factsTable'),
    private readonly db: DynamoDBDocumentClient = dynamo(),
    private readonly tokens: TokenCounter = tiktokenCounter,
  ) {}

  async upsert(tenantId: string, input: FactInput): Promise<{ fact: Fact; deduplicated: boolean }> {
    const tokens = this.tokens.count(input.text);
    for (let attempt = 0; ; attempt++) {
      const prev = await this.read(tenantId, factIdOf(input));
      const next = planUpsert(prev ? stripIndex(prev) : null, input, tokens, new Date());
      if (!next.changed) return { fact: next.fact, deduplicated: true };
      try {
        await this.db.send(
          new TransactWriteCommand({ TransactItems: this.writes(tenantId, prev, next.fact) }),
        );
        return { fact: next.fact, deduplicated: next.deduplicated };
      } catch (err) {
        if (!lostRace(err) || attempt >= factStoreLimits.maxUpsertRetries) throw err;
        // Jittered backoff so writers racing on one fact (a summarizer burst) spread out.
        await new Promise((r) => setTimeout(r, Math.random() * 10 * 2 ** attempt));
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
    const lists = await Promise.all([
      ...scopes.flatMap((scope) => terms.map((term) => this.postings(tenantId, scope, term))),
      ...scopes.map((scope) => this.pinned(tenantId, scope)),
    ]);
    const ranked = rankCandidates(terms, mergeCandidates(lists.flat()), q);
    const facts = await this.batchGet(
      tenantId,
      ranked.map((r) => r.id),
    );
    // A fact replaced between the two reads is returned as read now; a vanished one is left out.
    return ranked.flatMap((r) => {
      const fact = facts.get(r.id);
      return fact ? [{ fact, score: r.score }] : [];
    });
  }

  /** One fact by id (the API's answer after a write, and tests). */
  async get(tenantId: string, factId: string): Promise<Fact | null> {
    const item = await this.read(tenantId, factId);
    return item ? stripIndex(item) : null;
  }

  private async read(tenantId: string, factId: string): Promise<FactItem | null> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: keys.fact(tenantId, factId), ConsistentRead: true }),
    );
    return out.Item ? (out.Item as FactItem) : null;
  }

  private writes(tenantId: string, prev: FactItem | null, fact: Fact): WriteItems {
    const scope = scopeOf(fact.userId, fact.sessionId);
    const atMs = Date.parse(fact.updatedAt);
    const { tf, length } = indexTerms(fact.text);
    const terms = Object.keys(tf).sort();
    const item: FactItem = { ...fact, indexed: { terms, length, atMs } };
    const posting = (term: string) => keys.factPosting(tenantId, scope, term, atMs, fact.id);
    const puts: WriteItems = terms.map((term) => ({
      Put: {
        TableName: this.table,
        Item: { ...posting(term), factId: fact.id, tf: tf[term], len: length, at: atMs, pinned: fact.pinned },
      },
    }));
    const newSks = new Set(terms.map((term) => `${posting(term).pk}|${posting(term).sk}`));
    const deletes: WriteItems = (prev?.indexed.terms ?? [])
      .map((term) => keys.factPosting(tenantId, scope, term, prev!.indexed.atMs, prev!.id))
      .filter((k) => !newSks.has(`${k.pk}|${k.sk}`))
      .map((Key) => ({ Delete: { TableName: this.table, Key } }));
    const pinKey = keys.pinnedFact(tenantId, scope, fact.id);
    const pin: WriteItems = fact.pinned
      ? [{ Put: { TableName: this.table, Item: { ...pinKey, factId: fact.id, len: length, at: atMs } } }]
      : prev?.pinned
        ? [{ Delete: { TableName: this.table, Key: pinKey } }]
        : [];
    const factPut: WriteItems[number] = {
      Put: {
        TableName: this.table,
        Item: { ...keys.fact(tenantId, fact.id), ...item },
        ...(prev
          ? { ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':v': prev.version } }
          : { ConditionExpression: 'attribute_not_exists(pk)' }),
      },
    };
    return [factPut, ...deletes, ...puts, ...pin];
  }

  private async postings(tenantId: string, scope: string, term: string): Promise<Candidate[]> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': keys.factTerm(tenantId, scope, term).pk },
        Limit: factStoreLimits.postingsPerTerm,
        ConsistentRead: true,
      }),
    );
    return (out.Items ?? []).map((i) => ({
      id: i.factId,
      updatedAtMs: i.at,
      pinned: i.pinned === true,
      length: i.len,
      tf: { [term]: i.tf },
    }));
  }

  private async pinned(tenantId: string, scope: string): Promise<Candidate[]> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': keys.pinnedFacts(tenantId, scope).pk },
        Limit: factStoreLimits.pinnedPerScope,
        ConsistentRead: true,
      }),
    );
    return (out.Items ?? []).map((i) => ({
      id: i.factId,
      updatedAtMs: i.at,
      pinned: true,
      length: i.len,
      tf: {},
    }));
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
        const fact = stripIndex(item as FactItem);
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

function stripIndex(item: FactItem | Record<string, unknown>): Fact {
  const { pk: _pk, sk: _sk, indexed: _indexed, ...fact } = item as FactItem & { pk?: string; sk?: string };
  return fact;
}

/** A concurrent write to the same fact won (condition failed or transaction conflict): read again. */
function lostRace(err: unknown): boolean {
  if (!(err instanceof TransactionCanceledException)) return false;
  return (err.CancellationReasons ?? []).some(
    (r) => r.Code === 'ConditionalCheckFailed' || r.Code === 'TransactionConflict',
  );
}
