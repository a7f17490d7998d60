import { promisify } from 'node:util';
import { gunzipSync, gzip } from 'node:zlib';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { env } from '../config';
import {
  decodePostings,
  encodePostings,
  type Posting,
  type RecallIndexPort,
  type RecallReadPort,
  recallLimits,
  type Scope,
  type ScopeSnapshot,
  type ScopeStats,
  sessionScope,
  type Tail,
} from '../domain/recall';
import { decodePack, encodePack, packFollow, packSnapshot, type StoredPack } from '../domain/recall-pack';
import type { SessionEvent, StoredTurn } from '../domain/session';
import { dynamo } from './clients';
import { keys } from './keys';
import { Registry } from './registry';

const BATCH_GET = 100;
/** Off the event loop: a pack is up to 200 KB compressed, and the local runtime serves appends on
 * the loop the indexer runs on (in Lambda it is one request at a time either way). */
const gzipAsync = promisify(gzip);
/** A pack larger than this (gzipped) is dropped: DynamoDB's items stop at 400 KB, and a build reads it
 * whole (bench:recall: 40 KB for a 677-turn conversation, its turns included). */
const PACK_MAX_BYTES = 200_000;
const BATCH_WRITE = 25;
const MAX_BATCH_RETRIES = 8;

const backoff = (attempt: number) => new Promise((r) => setTimeout(r, 5 * 2 ** Math.min(attempt, 6)));

/**
 * The recall index in DynamoDB, plus the event-log reads recall needs. Postings are one item per
 * (scope, term, indexed batch): written with idempotent Puts, read with one Query per query term. A scope's
 * counters live in one item, advanced once per indexed batch under a condition on the session's
 * watermark. No Scan anywhere; every read is bounded (see recallLimits).
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
    const item = out.Item;
    return {
      docs: Number(item?.docs ?? 0),
      length: Number(item?.length ?? 0),
      watermarks: (item?.w as Record<string, number> | undefined) ?? {},
    };
  }

  async snapshot(
    tenantId: string,
    scope: ScopeSnapshot['scope'],
    terms: string[],
    known?: ScopeStats,
  ): Promise<ScopeSnapshot> {
    if (!known && scope.startsWith('S:')) {
      // A session scope's counters and pack are read at once (with the session item, when the client
      // coalesces): a pack at the counters' watermark answers every term without a Query.
      const [stats, pack] = await Promise.all([this.stats(tenantId, scope), this.readPack(tenantId, scope)]);
      return packSnapshot(scope, stats, pack, terms) ?? this.snapshot(tenantId, scope, terms, stats);
    }
    const [stats, ...lists] = await Promise.all([
      known ?? this.stats(tenantId, scope),
      ...terms.map((term) => this.postings(tenantId, scope, term)),
    ]);
    return { scope, stats, terms: new Map(terms.map((term, i) => [term, lists[i]!])) };
  }

  /**
   * A term's postings: its first blocksPerTerm blocks decoded, and every block's count (a very common
   * term's further blocks are counted, not read). The first page has no ProjectionExpression (nor has
   * turns' BatchGet): it would drop only the keys of small items, and DynamoDB Local spends more CPU
   * evaluating one than on the rest of the request (README, "Where the build's time goes").
   */
  private async postings(tenantId: string, scope: string, term: string) {
    const postings: Posting[] = [];
    let total = 0;
    let start: QueryCommandInput['ExclusiveStartKey'];
    do {
      const first = start === undefined;
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': keys.recallTerm(tenantId, scope, term).pk },
          // Pages past the first are only counted: there, leaving the postings out saves bytes.
          ...(first
            ? { Limit: recallLimits.blocksPerTerm }
            : {
                ExclusiveStartKey: start,
                ProjectionExpression: '#n',
                ExpressionAttributeNames: { '#n': 'n' },
              }),
          ConsistentRead: true,
        }),
      );
      for (const item of page.Items ?? []) {
        if (first) postings.push(...decodePostings(String(item.s), String(item.p)));
        total += Number(item.n);
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return { postings, total };
  }

  private async readPack(tenantId: string, scope: string): Promise<StoredPack | null> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: keys.recallPack(tenantId, scope), ConsistentRead: true }),
    );
    const item = out.Item;
    if (!item) return null;
    return {
      w: Number(item.w),
      docs: Number(item.docs),
      batches: Number(item.batches),
      pack: decodePack(gunzipSync(item.z as Uint8Array).toString('utf8')),
    };
  }

  async pack(
    tenantId: string,
    sessionId: string,
    batch: { from: number; to: number; docs: number },
    byTerm: Map<string, Posting[]>,
    turns: StoredTurn[],
  ): Promise<void> {
    const scope = sessionScope(sessionId);
    const key = keys.recallPack(tenantId, scope);
    const had = await this.readPack(tenantId, scope);
    const next = packFollow(had, batch, byTerm, turns);
    const z = next ? await gzipAsync(encodePack(next.pack)) : null;
    if (next && z && z.byteLength <= PACK_MAX_BYTES) {
      try {
        await this.db.send(
          new PutCommand({
            TableName: this.table,
            Item: { ...key, w: next.w, docs: next.docs, batches: next.batches, z },
            ConditionExpression: had ? 'w = :from' : 'attribute_not_exists(pk)',
            ...(had ? { ExpressionAttributeValues: { ':from': batch.from } } : {}),
          }),
        );
      } catch (err) {
        // Another run packed first: builds check the pack against the counters, so either way is safe.
        if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
      }
      return;
    }
    // Builds read the blocks when the pack is gone, as when it would be too large for one read.
    if (had) await this.db.send(new DeleteCommand({ TableName: this.table, Key: key }));
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

  async turns(
    tenantId: string,
    refs: { sessionId: string; seq: number }[],
  ): Promise<Map<string, StoredTurn>> {
    const found = new Map<string, StoredTurn>();
    const chunks: Record<string, unknown>[][] = [];
    const all = refs.map((r) => keys.event(tenantId, r.sessionId, r.seq));
    // Which session each partition is: from the keys built here, never by parsing a key back.
    const sessionOf = new Map(refs.map((r) => [keys.events(tenantId, r.sessionId).pk, r.sessionId]));
    for (let i = 0; i < all.length; i += BATCH_GET) chunks.push(all.slice(i, i + BATCH_GET));
    await Promise.all(
      chunks.map(async (chunk) => {
        let pending = chunk;
        for (let attempt = 0; pending.length; attempt++) {
          if (attempt > MAX_BATCH_RETRIES) throw new Error('recall: events still unprocessed after retries');
          if (attempt) await backoff(attempt);
          const out = await this.db.send(
            new BatchGetCommand({
              RequestItems: {
                [this.eventsTable]: {
                  Keys: pending,
                },
              },
            }),
          );
          for (const item of out.Responses?.[this.eventsTable] ?? []) {
            const event = item as SessionEvent & { pk: string };
            if (event.type !== 'turn_appended') continue;
            found.set(`${sessionOf.get(event.pk)}#${event.seq}`, event.data.turn);
          }
          pending = (out.UnprocessedKeys?.[this.eventsTable]?.Keys ?? []) as typeof pending;
        }
      }),
    );
    return found;
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
    const requests = [...byTerm].map(([term, postings]) => ({
      PutRequest: {
        Item: {
          ...keys.recallBlock(tenantId, scope, term, sessionId, from),
          s: sessionId,
          n: postings.length,
          p: encodePostings(postings),
        },
      },
    }));
    const chunks: (typeof requests)[] = [];
    for (let i = 0; i < requests.length; i += BATCH_WRITE) chunks.push(requests.slice(i, i + BATCH_WRITE));
    // A few batches at a time: enough to hide latency, not enough to throttle a small table.
    for (let i = 0; i < chunks.length; i += 4) {
      await Promise.all(chunks.slice(i, i + 4).map((chunk) => this.batchWrite(chunk)));
    }
  }

  private async batchWrite(chunk: Record<string, unknown>[]) {
    let pending = chunk;
    for (let attempt = 0; pending.length; attempt++) {
      if (attempt > MAX_BATCH_RETRIES) throw new Error('recall: postings still unprocessed after retries');
      if (attempt) await backoff(attempt);
      const out = await this.db.send(new BatchWriteCommand({ RequestItems: { [this.table]: pending } }));
      pending = (out.UnprocessedItems?.[this.table] ?? []) as typeof pending;
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
