import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandInput,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { env } from '../config';
import {
  decodePostings,
  encodePostings,
  type Posting,
  type RecallIndexPort,
  type RecallRead,
  type RecallReadPort,
  type RecallReadResult,
  type Scope,
  type ScopeStats,
  type Tail,
  type TermPostings,
} from '../domain/recall';
import type { SessionEvent, StoredTurn } from '../domain/session';
import { dynamo } from './clients';
import { keys } from './keys';
import { Registry } from './registry';

type BatchGetRequest = NonNullable<BatchGetCommandInput['RequestItems']>;

const BATCH_GET = 100;
const MAX_BATCH_RETRIES = 8;
/** A term's item keeps postings up to about this size; a batch past it is counted, not kept (its
 * turns stay findable by their other terms). A term this common in a scope weighs little in BM25. */
export const TERM_ITEM_BYTES = 128 * 1024;
/** Actions per TransactWriteItems. */
const TRANSACT_MAX = 100;

const backoff = (attempt: number) => new Promise((r) => setTimeout(r, 5 * 2 ** Math.min(attempt, 6)));

/** One indexed batch's postings of a term, as an attribute of the term's item: `p` the postings
 * (see encodePostings), or only `n`, their number, when the item was full. */
interface Block {
  s: string;
  f: number;
  p?: string;
  n?: number;
}

const isBlock = (name: string, value: unknown): value is Block =>
  name.startsWith('B#') && typeof value === 'object' && value !== null;

/** About what a block adds to its item's size (what the cap is checked on). */
const blockBytes = (name: string, b: Block) => name.length + b.s.length + (b.p?.length ?? 0) + 24;

/** A term item's size as its counter should say: the sum of its blocks (0: no block left). */
export const recallItemBytes = (item: Record<string, unknown>) =>
  Object.entries(item).reduce(
    (n, [name, value]) => (isBlock(name, value) ? n + blockBytes(name, value) : n),
    0,
  );

/**
 * The recall index in DynamoDB, plus the event-log reads recall needs. A scope is one partition: its
 * counters item, and one item per term holding that term's postings, one attribute per indexed batch
 * (written by an idempotent SET of that attribute). A build reads the counters and every query term's
 * item of both scopes, and later the turns it ranks, in batch reads; the counters advance once per
 * indexed batch under a condition on the session's watermark. No Scan anywhere; every read is bounded
 * (recallLimits, TERM_ITEM_BYTES).
 */
export class RecallStore implements RecallReadPort, RecallIndexPort {
  constructor(
    private readonly table = env('recallTable'),
    private readonly eventsTable = env('eventsTable'),
    private readonly db: DynamoDBDocumentClient = dynamo(),
    /** where each batch's terms are listed under its session, for the session's deletion */
    private readonly registry: Registry | null = Registry.fromEnv(),
  ) {}

  async stats(tenantId: string, scope: string): Promise<ScopeStats> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: keys.recallStats(tenantId, scope), ConsistentRead: true }),
    );
    return statsOf(out.Item);
  }

  async read(tenantId: string, req: RecallRead): Promise<RecallReadResult> {
    const result: RecallReadResult = { stats: new Map(), terms: new Map(), turns: new Map() };
    // Who each key is, from the keys built here: nothing is parsed back out of a key.
    const what = new Map<string, (item: Record<string, unknown>) => void>();
    const recallKeys: Record<string, unknown>[] = [];
    const eventKeys: Record<string, unknown>[] = [];
    for (const { scope, terms, stats } of req.scopes) {
      if (stats) {
        const key = keys.recallStats(tenantId, scope);
        recallKeys.push(key);
        what.set(`${key.pk}|${key.sk}`, (item) => result.stats.set(scope, statsOf(item)));
      }
      const found = new Map(terms.map((term) => [term, { postings: [], total: 0 } as TermPostings]));
      result.terms.set(scope, found);
      for (const term of terms) {
        const key = keys.recallTerm(tenantId, scope, term);
        recallKeys.push(key);
        what.set(`${key.pk}|${key.sk}`, (item) => found.set(term, postingsOfItem(item)));
      }
    }
    for (const ref of req.turns) {
      const key = keys.event(tenantId, ref.sessionId, ref.seq);
      eventKeys.push(key);
      what.set(`${key.pk}|${key.seq}`, (item) => {
        const event = item as unknown as SessionEvent;
        if (event.type === 'turn_appended') result.turns.set(`${ref.sessionId}#${ref.seq}`, event.data.turn);
      });
    }
    const all = [
      ...recallKeys.map((key) => ({ table: this.table, key })),
      ...eventKeys.map((key) => ({ table: this.eventsTable, key })),
    ];
    const chunks: (typeof all)[] = [];
    for (let i = 0; i < all.length; i += BATCH_GET) chunks.push(all.slice(i, i + BATCH_GET));
    await Promise.all(
      chunks.map(async (chunk) => {
        let pending = this.requestItems(chunk);
        for (let attempt = 0; pending; attempt++) {
          if (attempt > MAX_BATCH_RETRIES) throw new Error('recall: keys still unprocessed after retries');
          if (attempt) await backoff(attempt);
          const out = await this.db.send(new BatchGetCommand({ RequestItems: pending }));
          for (const items of Object.values(out.Responses ?? {})) {
            for (const item of items) what.get(`${item.pk}|${item.sk ?? item.seq}`)?.(item);
          }
          const left = out.UnprocessedKeys ?? {};
          pending = Object.keys(left).length ? (left as typeof pending) : undefined;
        }
      }),
    );
    return result;
  }

  /** A chunk's keys as BatchGetItem asks for them: recall items read consistently (a posting counted
   * in the counters read is there), events by the projection a turn needs. */
  private requestItems(chunk: { table: string; key: Record<string, unknown> }[]) {
    const items: BatchGetRequest = {};
    for (const { table, key } of chunk) {
      items[table] ??=
        table === this.eventsTable
          ? {
              Keys: [],
              ProjectionExpression: 'pk, seq, #t, #d',
              ExpressionAttributeNames: { '#t': 'type', '#d': 'data' },
            }
          : { Keys: [], ConsistentRead: true };
      items[table].Keys!.push(key);
    }
    return items as BatchGetRequest | undefined;
  }

  async tail(tenantId: string, sessionId: string, limit: number, before?: number): Promise<Tail> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.eventsTable,
        KeyConditionExpression: before === undefined ? 'pk = :pk' : 'pk = :pk AND seq < :before',
        ExpressionAttributeValues: {
          ':pk': keys.events(tenantId, sessionId).pk,
          ...(before === undefined ? {} : { ':before': before }),
        },
        ScanIndexForward: false,
        Limit: limit,
        ConsistentRead: true,
      }),
    );
    const items = out.Items ?? [];
    return {
      turns: items.flatMap((i) =>
        i.type === 'turn_appended' ? [(i.data as { turn: StoredTurn }).turn] : [],
      ),
      oldestSeq: items.length ? Number(items[items.length - 1]!.seq) : 0,
      more: out.LastEvaluatedKey !== undefined,
    };
  }

  async writePostings(
    tenantId: string,
    scope: Scope,
    from: number,
    byTerm: Map<string, Posting[]>,
  ): Promise<void> {
    const sessionId = [...byTerm.values()][0]?.[0]?.sessionId;
    if (sessionId === undefined) return;
    // Listed before written: a deletion of the session finds every block, even of a batch cut short.
    // A retried batch (same `from`) covers at least the turns of the one before, so its list replaces it.
    await this.registry?.putOwned(tenantId, sessionId, 'R', keys.recallBatchRef(scope, from), {
      scope,
      from,
      t: [...byTerm.keys()].join(' '),
    });
    const name = keys.recallBlockName(sessionId, from);
    const writes = [...byTerm].map(([term, postings]) => ({
      key: keys.recallTerm(tenantId, scope, term),
      block: { s: sessionId, f: from, p: encodePostings(postings) },
    }));
    for (let i = 0; i < writes.length; i += TRANSACT_MAX) {
      await this.writeBlocks(name, writes.slice(i, i + TRANSACT_MAX));
    }
  }

  /**
   * One batch's postings of each term: an attribute SET on the term's item, with the item's size
   * counter (`z`, what the cap is checked on). Up to 100 terms per request: a transaction, not for
   * its atomicity but because DynamoDB has no batch Update (one request per term cost the emulator
   * 4× the CPU of the batched Puts of per-batch items; on AWS a transactional write costs 2 WCUs per
   * KB). A full item gets the batch's count only. A retried batch (same `from`, perhaps more turns)
   * overwrites its own block in the same form (its size is counted twice: the cap comes a little
   * early, never late).
   */
  private async writeBlocks(name: string, writes: { key: object; block: Block & { p: string } }[]) {
    const update = (key: object, value: Block, condition: string) => ({
      TableName: this.table,
      Key: key,
      UpdateExpression: 'SET #b = :b ADD #z :size',
      ConditionExpression: condition,
      ExpressionAttributeNames: { '#b': name, '#z': 'z' },
      ExpressionAttributeValues: {
        ':b': value,
        ':size': blockBytes(name, value),
        ...(condition.includes(':cap') ? { ':cap': TERM_ITEM_BYTES } : {}),
      },
    });
    const keep =
      'attribute_exists(#b.p) OR (attribute_not_exists(#b) AND (attribute_not_exists(#z) OR #z < :cap))';
    let pending = writes;
    for (let attempt = 0; pending.length; attempt++) {
      if (attempt > MAX_BATCH_RETRIES) throw new Error('recall: postings still unwritten after retries');
      try {
        await this.db.send(
          new TransactWriteCommand({
            TransactItems: pending.map((w) => ({ Update: update(w.key, w.block, keep) })),
          }),
        );
        return;
      } catch (err) {
        if (!(err instanceof TransactionCanceledException)) throw err;
        const reasons = err.CancellationReasons ?? [];
        const full = pending.filter((_, i) => reasons[i]?.Code === 'ConditionalCheckFailed');
        // Full: the batch's postings are counted (the term's document frequency stays exact), not
        // kept. (A racing run of the same batch that kept its postings leaves nothing to do here.)
        for (const w of full) {
          const counted = { s: w.block.s, f: w.block.f, n: w.block.p.split('|').length };
          await this.db
            .send(new UpdateCommand(update(w.key, counted, 'attribute_not_exists(#b.p)')))
            .catch((e: Error) => {
              if (e.name !== 'ConditionalCheckFailedException') throw e;
            });
        }
        pending = pending.filter((w) => !full.includes(w));
        // Cancelled for a concurrent write (an indexer of the user's other session): again, later.
        if (full.length === 0) await backoff(attempt);
      }
    }
  }

  async advance(
    tenantId: string,
    scope: string,
    sessionId: string,
    batch: { from: number; to: number; docs: number; length: number },
  ): Promise<boolean> {
    const key = keys.recallStats(tenantId, scope);
    // The counters item exists before any update names a session in its watermark map.
    await this.db
      .send(
        new PutCommand({
          TableName: this.table,
          Item: { ...key, docs: 0, length: 0, w: {} },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      )
      .catch((err: Error) => {
        if (err.name !== 'ConditionalCheckFailedException') throw err;
      });
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: 'SET w.#s = :to ADD docs :docs, #len :len',
          ConditionExpression: batch.from === 0 ? 'attribute_not_exists(w.#s)' : 'w.#s = :from',
          ExpressionAttributeNames: { '#s': sessionId, '#len': 'length' },
          ExpressionAttributeValues: {
            ':to': batch.to,
            ':docs': batch.docs,
            ':len': batch.length,
            ...(batch.from === 0 ? {} : { ':from': batch.from }),
          },
        }),
      );
      return true;
    } catch (err) {
      // Another run indexed this batch first: its counters are in, ours would count it twice.
      if ((err as Error).name === 'ConditionalCheckFailedException') return false;
      throw err;
    }
  }
}

const statsOf = (item: Record<string, unknown> | undefined): ScopeStats => ({
  docs: Number(item?.docs ?? 0),
  length: Number(item?.length ?? 0),
  watermarks: (item?.w as Record<string, number> | undefined) ?? {},
});

/** A term's item: every block's postings, and the count of those a full item did not keep. */
function postingsOfItem(item: Record<string, unknown>): TermPostings {
  const postings: Posting[] = [];
  let total = 0;
  for (const [name, value] of Object.entries(item)) {
    if (!isBlock(name, value)) continue;
    if (value.p !== undefined) {
      const decoded = decodePostings(value.s, value.p);
      postings.push(...decoded);
      total += decoded.length;
    } else total += Number(value.n ?? 0);
  }
  return { postings, total };
}
