import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { env } from '../config';
import {
  auditDataOf,
  citesOnly,
  type DeletionKind,
  type DeletionRecord,
  type DeletionStep,
  type DeletionTarget,
  deletionIdOf,
  deletionStoreNames,
  nextStep,
  type SessionStep,
  type StoreName,
  sessionSteps,
  stepsOf,
  TOMBSTONE_HOLD_SECONDS,
  withoutSession,
} from '../domain/deletion';
import { scopeOf } from '../domain/fact-upsert';
import { type Fact, isCurrent } from '../domain/facts';
import { postingsOf, sessionScope, userScope } from '../domain/recall';
import { turnsBetween } from '../domain/summarizer/job';
import { dynamo, sqsClient } from './clients';
import { type FactLocation, FactStore } from './fact-store';
import { keys } from './keys';
import { SessionStore } from './session-store';

type Key = Record<string, unknown>;
type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** One item to remove, and which store's count it adds to. */
interface Removal {
  table: string;
  key: object;
  store: StoreName;
}

/** Items per removal transaction: DynamoDB's 100, less the record's count update. */
const CHUNK = 99;
const PAGE = 100;
const MAX_ATTEMPTS = 12;

export interface DeletionTables {
  registry: string;
  sessions: string;
  events: string;
  idempotency: string;
  facts: string;
  profiles: string;
  cache: string;
  recall: string;
}

export const deletionTablesFromEnv = (): DeletionTables => ({
  registry: env('registryTable'),
  sessions: env('sessionsTable'),
  events: env('eventsTable'),
  idempotency: env('idempotencyTable'),
  facts: env('factsTable'),
  profiles: env('profilesTable'),
  cache: env('cacheTable'),
  recall: env('recallTable'),
});

/** Called at every named point of a run (tests crash a run there, then resume it). */
export type FaultHook = (point: string) => void;

/** done (`now`: this run finished it), or to be run again after a delay (the sweep's grace). */
export type RunOutcome =
  | { status: 'done'; record: DeletionRecord; now: boolean }
  | { status: 'later'; delaySeconds: number };

const backoff = (attempt: number) =>
  new Promise((r) => setTimeout(r, Math.random() * 5 * 2 ** Math.min(attempt, 6)));

/**
 * Deletion records (in the registry table) and the steps that carry a deletion out. Every removal is
 * a transaction of conditional Deletes (the item must still exist) together with the record's count
 * update: a step cut short and run again, or run twice at once, counts each item exactly once.
 */
export class DeletionStore {
  private readonly facts: FactStore;
  private readonly sessions: SessionStore;

  constructor(
    private readonly t: DeletionTables = deletionTablesFromEnv(),
    private readonly db: DynamoDBDocumentClient = dynamo(),
  ) {
    this.facts = new FactStore(t.facts, db);
    this.sessions = new SessionStore(t.sessions, t.events, db, null);
  }

  // --- records ---

  async get(tenantId: string, id: string): Promise<DeletionRecord | null> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.t.registry, Key: keys.deletion(tenantId, id), ConsistentRead: true }),
    );
    return out.Item ? toRecord(out.Item) : null;
  }

  /**
   * The deletion of a target: created with the target's tombstone in one transaction (from then on its
   * writes are refused), or the one already running. A done one is started again under the same id:
   * the caller found something of the target to delete (written before its tombstone held, or since).
   */
  async start(
    tenantId: string,
    kind: DeletionKind,
    targetId: string,
    target: DeletionTarget,
  ): Promise<{ record: DeletionRecord; created: boolean }> {
    const id = deletionIdOf(tenantId, kind, targetId);
    const now = new Date();
    const record: DeletionRecord = {
      id,
      tenantId,
      kind,
      status: 'running',
      pass: 1,
      step: stepsOf(kind)[0]!,
      target,
      counts: {},
      factsUpdated: 0,
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
    };
    const tombstoneOf = kind === 'fact' ? undefined : kind;
    const items: TransactItem[] = [
      {
        Put: {
          TableName: this.t.registry,
          // Counts live in one top-level number per store (c_<store>), added to by each removal.
          Item: { ...keys.deletion(tenantId, id), ...record, counts: undefined },
          // A done deletion whose target has something again (written since) runs again, under its id.
          ConditionExpression: 'attribute_not_exists(pk) OR #s = :done',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':done': 'done' },
        },
      },
      ...(tombstoneOf
        ? [
            {
              Put: {
                TableName: this.t.registry,
                Item: {
                  ...keys.tombstone(tenantId, tombstoneOf, targetId),
                  deletionId: id,
                  at: record.createdAt,
                },
              },
            },
          ]
        : []),
    ];
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: items }));
      return { record, created: true };
    } catch (err) {
      if (!(err instanceof TransactionCanceledException)) throw err;
      const existing = await this.get(tenantId, id);
      if (!existing) throw err;
      return { record: existing, created: false };
    }
  }

  /** Whether something is left to find under a target (one key Query, never a Scan): a session's log
   * (it outlives its item), the sessions listed under a user, the facts of a user's scope. */
  async hasAny(tenantId: string, what: 'sessionLog' | 'userSessions' | 'userFacts', id: string) {
    const [table, pk] =
      what === 'sessionLog'
        ? [this.t.events, keys.events(tenantId, id).pk]
        : what === 'userSessions'
          ? [this.t.registry, keys.userSessions(tenantId, id).pk]
          : [this.t.facts, keys.factScope(tenantId, scopeOf(id)).pk];
    const out = await this.query({
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': pk },
      Limit: 1,
    });
    return out.items.length > 0;
  }

  // --- running ---

  /** Runs a deletion from where its record says, to the end or to the sweep's wait. */
  async run(
    tenantId: string,
    id: string,
    opts: { graceSeconds: number; fault?: FaultHook; deadline?: number },
  ): Promise<RunOutcome> {
    try {
      return await this.runSteps(tenantId, id, opts);
    } catch (err) {
      // Out of time: every point is a safe place to stop; the next delivery carries on from the record.
      if (err instanceof OutOfTime) return { status: 'later', delaySeconds: 0 };
      throw err;
    }
  }

  private async runSteps(
    tenantId: string,
    id: string,
    opts: { graceSeconds: number; fault?: FaultHook; deadline?: number },
  ): Promise<RunOutcome> {
    const progress = { made: false };
    for (;;) {
      const record = await this.get(tenantId, id);
      if (!record) throw new Error(`deletion ${id} has no record`);
      if (record.status === 'done') return { status: 'done', record, now: false };
      if (record.status === 'sweeping' && (record.sweepAt ?? 0) > Date.now()) {
        return { status: 'later', delaySeconds: Math.ceil(((record.sweepAt ?? 0) - Date.now()) / 1000) };
      }
      const fault = opts.fault ?? (() => {});
      const deadline = opts.deadline ?? Number.POSITIVE_INFINITY;
      const ctx: RunContext = {
        record,
        point: `${record.pass}:${record.step}`,
        progress,
        fault: (point) => {
          fault(point);
          // Only once this delivery removed something or finished a step: every delivery gets on.
          if (progress.made && Date.now() > deadline) throw new OutOfTime();
        },
      };
      ctx.fault(ctx.point);
      await this.step(ctx, record.step);
      progress.made = true;
      const next = nextStep(record.kind, record.step);
      if (next) {
        await this.advance(record, { step: next });
        continue;
      }
      if (record.pass === 1) {
        // The sweep: the same steps once more, after every write begun before the tombstone has landed.
        await this.advance(record, {
          pass: 2,
          status: 'sweeping',
          step: stepsOf(record.kind)[0]!,
          sweepAt: Date.now() + opts.graceSeconds * 1000,
        });
        continue;
      }
      // Not a place to stop for time: the last step is not recorded as done, finishing is.
      fault('finish');
      return { status: 'done', record: await this.finish(record), now: true };
    }
  }

  private async advance(record: DeletionRecord, set: Partial<DeletionRecord>) {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':pass': record.pass, ':step': record.step };
    const sets = Object.entries({ ...set, updatedAt: new Date().toISOString() }).map(([k, v], i) => {
      names[`#a${i}`] = k;
      values[`:a${i}`] = v;
      return `#a${i} = :a${i}`;
    });
    await this.db
      .send(
        new UpdateCommand({
          TableName: this.t.registry,
          Key: keys.deletion(record.tenantId, record.id),
          UpdateExpression: `SET ${sets.join(', ')}`,
          // Another run of the same deletion may have moved it on: then its position stands.
          ConditionExpression: 'pass = :pass AND #step = :step',
          ExpressionAttributeNames: { ...names, '#step': 'step' },
          ExpressionAttributeValues: values,
        }),
      )
      .catch((err: Error) => {
        if (err.name !== 'ConditionalCheckFailedException') throw err;
      });
  }

  private async step(ctx: RunContext, step: DeletionStep): Promise<void> {
    const { record } = ctx;
    const target = record.target ?? {};
    if (record.kind === 'fact') return this.removeLineage(ctx, target.scope!, target.lineageId!);
    if (record.kind === 'session') {
      if (step === 'tombstone' && !target.userId) await this.findUser(record);
      return this.sessionStep(ctx, step as SessionStep, target.sessionId!, target.userId, false);
    }
    const userId = target.userId!;
    const tenantId = record.tenantId;
    switch (step) {
      case 'tombstone':
        return this.putTombstone(tenantId, 'user', userId, record.id);
      case 'sessions': {
        const session = async (sessionId: string) => {
          for (const s of sessionSteps) {
            ctx.point = `${record.pass}:sessions:${s}`;
            ctx.fault(ctx.point);
            await this.sessionStep(ctx, s, sessionId, userId, true);
          }
        };
        // The sweep goes over the sessions the first pass deleted (no longer listed under the user):
        // a late write may have listed something under one of them.
        if (record.pass === 2) for (const sessionId of record.sessionIds ?? []) await session(sessionId);
        for (;;) {
          const page = await this.query({
            TableName: this.t.registry,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': keys.userSessions(tenantId, userId).pk },
            Limit: 10,
          });
          if (page.items.length === 0) return;
          for (const item of page.items) await session(String(item.sk));
        }
      }
      case 'facts':
        for await (const page of this.facts.scopeItemKeys(tenantId, scopeOf(userId))) {
          await this.remove(
            ctx,
            page.map((key) => ({ table: this.t.facts, key, store: 'facts' as const })),
          );
        }
        return;
      case 'profile':
        return this.remove(ctx, [
          { table: this.t.profiles, key: keys.profile(tenantId, userId), store: 'profiles' },
        ]);
      case 'recall':
        // Each session's blocks in the user's scope went with the session; the counters go last.
        return this.remove(ctx, [
          { table: this.t.recall, key: keys.recallStats(tenantId, userScope(userId)), store: 'recall' },
        ]);
    }
  }

  /**
   * A session whose item expired (its log is kept longer) may still be bound to a user: the append
   * that bound it says so in its event. The record keeps what is found, for the steps after.
   */
  private async findUser(record: DeletionRecord): Promise<void> {
    const ref = { tenantId: record.tenantId, sessionId: record.target!.sessionId! };
    for (let after = 0; ; ) {
      const page = await this.sessions.listEvents(ref, after, PAGE);
      const bound = page.events.find((e) => e.type === 'turn_appended' && e.data.userId);
      if (bound?.type === 'turn_appended' && bound.data.userId) {
        record.target = { ...record.target, userId: bound.data.userId };
        await this.db.send(
          new UpdateCommand({
            TableName: this.t.registry,
            Key: keys.deletion(record.tenantId, record.id),
            UpdateExpression: 'SET target.userId = :u',
            ExpressionAttributeValues: { ':u': bound.data.userId },
          }),
        );
        return;
      }
      if (page.next === null || page.events.length === 0) return;
      after = page.next;
    }
  }

  /** One step of one session's deletion. `inUser`: part of its user's deletion (the user's own facts
   * and recall counters go as a whole afterwards). */
  private async sessionStep(
    ctx: RunContext,
    step: SessionStep,
    sessionId: string,
    userId: string | undefined,
    inUser: boolean,
  ): Promise<void> {
    const tenantId = ctx.record.tenantId;
    const owned = (kind: 'C' | 'I' | 'R') =>
      this.pages({
        TableName: this.t.registry,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :k)',
        ExpressionAttributeValues: { ':pk': keys.sessionOwned(tenantId, sessionId).pk, ':k': `${kind}#` },
      });
    const listing = (item: Key): Removal => ({
      table: this.t.registry,
      key: { pk: item.pk, sk: item.sk },
      store: 'registry',
    });
    switch (step) {
      case 'tombstone':
        return this.putTombstone(tenantId, 'session', sessionId, ctx.record.id);
      case 'cache':
        for await (const items of owned('C')) {
          await this.remove(
            ctx,
            items.flatMap((i) => [
              { table: this.t.cache, key: keys.cacheEntry(tenantId, refOf(i)), store: 'cache' as const },
              listing(i),
            ]),
          );
        }
        return;
      case 'tools':
        for await (const items of owned('I')) {
          await this.remove(
            ctx,
            items.flatMap((i) => [
              { table: this.t.idempotency, key: { pk: refOf(i) }, store: 'idempotency' as const },
              listing(i),
            ]),
          );
        }
        return;
      case 'facts':
        return this.sessionFacts(ctx, sessionId, inUser ? [] : userId ? [scopeOf(userId)] : []);
      case 'recall':
        for await (const items of owned('R')) {
          for (const i of items) {
            const scope = String(i.scope);
            const blocks = String(i.t ?? '')
              .split(' ')
              .filter(Boolean)
              .map((term) => ({
                table: this.t.recall,
                key: keys.recallBlock(tenantId, scope, term, sessionId, Number(i.from)),
                store: 'recall' as const,
              }));
            await this.remove(ctx, [...blocks, listing(i)]);
          }
        }
        if (userId && !inUser) await this.uncount(ctx, sessionId, userId);
        return this.remove(ctx, [
          { table: this.t.recall, key: keys.recallStats(tenantId, sessionScope(sessionId)), store: 'recall' },
          { table: this.t.recall, key: keys.recallPack(tenantId, sessionScope(sessionId)), store: 'recall' },
        ]);
      case 'events':
        for (;;) {
          const page = await this.query({
            TableName: this.t.events,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': keys.events(tenantId, sessionId).pk },
            ProjectionExpression: 'pk, seq',
            Limit: CHUNK,
          });
          if (page.items.length === 0) return;
          await this.remove(
            ctx,
            page.items.map((i) => ({ table: this.t.events, key: { pk: i.pk, seq: i.seq }, store: 'events' })),
          );
        }
      case 'session':
        // Recorded first: once the user's listing of it is gone, the record is where the sweep and
        // the audit event find it.
        await this.db.send(
          new UpdateCommand({
            TableName: this.t.registry,
            Key: keys.deletion(tenantId, ctx.record.id),
            UpdateExpression: 'ADD sessionIds :s',
            ExpressionAttributeValues: { ':s': new Set([sessionId]) },
          }),
        );
        await this.remove(ctx, [
          { table: this.t.sessions, key: keys.session(tenantId, sessionId), store: 'sessions' },
          ...(userId
            ? [
                {
                  table: this.t.registry,
                  key: keys.userSession(tenantId, userId, sessionId),
                  store: 'registry' as const,
                },
              ]
            : []),
        ]);
        return;
    }
  }

  /**
   * The session's own facts (scope ~session) go whole. A fact of another scope that cites it (listed
   * under the session by its writer; its user's and the tenant's scopes are searched too) loses those
   * citations, or goes if it stands on this session alone (the current version: its whole chain; a
   * superseded one: that version).
   */
  private async sessionFacts(ctx: RunContext, sessionId: string, otherScopes: string[]) {
    const tenantId = ctx.record.tenantId;
    for await (const page of this.facts.scopeItemKeys(tenantId, scopeOf(undefined, sessionId))) {
      await this.remove(
        ctx,
        page.map((key) => ({ table: this.t.facts, key, store: 'facts' as const })),
      );
    }
    const listed = this.pages({
      TableName: this.t.registry,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :k)',
      ExpressionAttributeValues: { ':pk': keys.sessionOwned(tenantId, sessionId).pk, ':k': 'F#' },
    });
    for await (const items of listed) {
      for (const item of items) {
        const at = { scope: String(item.scope), lineageId: String(item.lineageId) };
        for (const fact of await this.lineageVersions(tenantId, at))
          await this.forget(ctx, fact, sessionId, at);
        await this.remove(ctx, [
          { table: this.t.registry, key: { pk: item.pk, sk: item.sk }, store: 'registry' },
        ]);
      }
    }
    for (const scope of [...otherScopes, scopeOf()]) {
      for await (const versions of this.facts.scopeFacts(tenantId, scope)) {
        for (const fact of versions) {
          if (!fact.citations.some((c) => c.sessionId === sessionId)) continue;
          const at = await this.facts.locate(tenantId, fact.id);
          if (at) await this.forget(ctx, fact, sessionId, at);
        }
      }
    }
  }

  /** What one version of a fact citing the deleted session becomes. */
  private async forget(ctx: RunContext, fact: Fact, sessionId: string, at: FactLocation) {
    if (!fact.citations.some((c) => c.sessionId === sessionId)) return;
    if (!citesOnly(fact.citations, sessionId)) {
      return this.stripCitations(ctx, fact.id, withoutSession(fact.citations, sessionId));
    }
    if (isCurrent(fact)) return this.removeLineage(ctx, at.scope, at.lineageId);
    await this.remove(ctx, [
      { table: this.t.facts, key: keys.fact(ctx.record.tenantId, fact.id), store: 'facts' },
      {
        table: this.t.facts,
        key: keys.factVersion(ctx.record.tenantId, at.scope, at.lineageId, fact.version),
        store: 'facts',
      },
    ]);
  }

  /** Every version of a lineage still there, read before any of it is changed. */
  private async lineageVersions(tenantId: string, at: FactLocation): Promise<Fact[]> {
    const versions: Fact[] = [];
    for await (const page of this.facts.chainItemKeys(tenantId, at)) {
      for (const key of page.filter((k) => k.sk === 'FACT')) {
        const out = await this.db.send(
          new GetCommand({ TableName: this.t.facts, Key: key, ConsistentRead: true }),
        );
        if (out.Item) versions.push(out.Item as Fact);
      }
    }
    return versions;
  }

  private async removeLineage(ctx: RunContext, scope: string, lineageId: string) {
    for await (const page of this.facts.chainItemKeys(ctx.record.tenantId, { scope, lineageId })) {
      await this.remove(
        ctx,
        page.map((key) => ({ table: this.t.facts, key, store: 'facts' as const })),
      );
    }
  }

  /** The fact keeps its text (other sessions back it) and loses this session's citations. */
  private async stripCitations(ctx: RunContext, factId: string, citations: unknown[]) {
    await this.db
      .send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: this.t.facts,
                Key: keys.fact(ctx.record.tenantId, factId),
                UpdateExpression: 'SET citations = :c',
                ConditionExpression: 'attribute_exists(pk)',
                ExpressionAttributeValues: { ':c': citations },
              },
            },
            this.countUpdate(ctx.record, {}, 1),
          ],
        }),
      )
      .catch((err) => {
        if (!(err instanceof TransactionCanceledException)) throw err;
      });
  }

  /**
   * The user's recall counters lose what the session added to them: its documents and length up to
   * its watermark there, recomputed from its log the way the indexer counted them, and the watermark.
   */
  private async uncount(ctx: RunContext, sessionId: string, userId: string) {
    const tenantId = ctx.record.tenantId;
    const key = keys.recallStats(tenantId, userScope(userId));
    const out = await this.db.send(
      new GetCommand({ TableName: this.t.recall, Key: key, ConsistentRead: true }),
    );
    const w = (out.Item?.w as Record<string, number> | undefined)?.[sessionId];
    if (w === undefined) return;
    const { turns } = await turnsBetween(this.sessions, { tenantId, sessionId }, 0, w);
    const { docs, length } = postingsOf(sessionId, turns);
    await this.db
      .send(
        new UpdateCommand({
          TableName: this.t.recall,
          Key: key,
          UpdateExpression: 'ADD docs :d, #len :l REMOVE w.#s',
          ConditionExpression: 'w.#s = :w',
          ExpressionAttributeNames: { '#s': sessionId, '#len': 'length' },
          ExpressionAttributeValues: { ':d': -docs, ':l': -length, ':w': w },
        }),
      )
      .catch((err: Error) => {
        if (err.name !== 'ConditionalCheckFailedException') throw err;
      });
  }

  private async putTombstone(tenantId: string, kind: 'session' | 'user', id: string, deletionId: string) {
    await this.db.send(
      new PutCommand({
        TableName: this.t.registry,
        Item: { ...keys.tombstone(tenantId, kind, id), deletionId, at: new Date().toISOString() },
      }),
    );
  }

  /** The audit event, the record marked done without the target's ids, the tombstone's expiry. */
  private async finish(read: DeletionRecord): Promise<DeletionRecord> {
    // Read again: the last step added to the counts and the deleted sessions.
    const record = (await this.get(read.tenantId, read.id)) ?? read;
    const at = new Date().toISOString();
    const expiresAt = Math.floor(Date.now() / 1000) + TOMBSTONE_HOLD_SECONDS;
    const expire = (kind: 'session' | 'user', id: string) =>
      this.db.send(
        new UpdateCommand({
          TableName: this.t.registry,
          Key: keys.tombstone(record.tenantId, kind, id),
          UpdateExpression: 'SET expiresAt = :e',
          ExpressionAttributeValues: { ':e': expiresAt },
        }),
      );
    // Session tombstones expire before the record says done (a re-run redoes them); a session
    // deletion's own target is among them.
    const sessions = new Set(record.sessionIds ?? []);
    if (record.kind === 'session') sessions.add(record.target!.sessionId!);
    for (const id of sessions) await expire('session', id);
    let seq = Date.parse(record.createdAt) * 1000 + (Number.parseInt(record.id.slice(4, 7), 16) % 1000);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.db.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Put: {
                  TableName: this.t.events,
                  Item: {
                    ...keys.auditEvent(record.tenantId, seq),
                    type: 'deletion_completed',
                    at,
                    data: auditDataOf(record, at),
                  },
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
              {
                Update: {
                  TableName: this.t.registry,
                  Key: keys.deletion(record.tenantId, record.id),
                  UpdateExpression:
                    'SET #s = :done, completedAt = :at, updatedAt = :at, auditSeq = :seq, sessionsDeleted = :n ' +
                    'REMOVE target, sessionIds, sweepAt',
                  ConditionExpression: '#s <> :done',
                  ExpressionAttributeNames: { '#s': 'status' },
                  ExpressionAttributeValues: {
                    ':done': 'done',
                    ':at': at,
                    ':seq': seq,
                    ':n': record.sessionIds?.length ?? 0,
                  },
                },
              },
            ],
          }),
        );
        break;
      } catch (err) {
        if (!(err instanceof TransactionCanceledException) || attempt >= MAX_ATTEMPTS) throw err;
        const [audit, rec] = err.CancellationReasons ?? [];
        if (rec?.Code === 'ConditionalCheckFailed') break; // another run finished it
        if (audit?.Code === 'ConditionalCheckFailed')
          seq++; // another deletion's event has this seq
        else await backoff(attempt);
      }
    }
    // A user's tombstone holds until the audit event is written: no new session binds to it before.
    if (record.kind === 'user') await expire('user', record.target!.userId!);
    return (await this.get(record.tenantId, record.id))!;
  }

  // --- primitives ---

  /** Removes items in order, each exactly once: a chunk's Deletes (each conditioned on the item still
   * existing) and the record's counts in one transaction; items already gone are dropped and retried. */
  private async remove(ctx: RunContext, items: Removal[]): Promise<void> {
    const seen = new Set<string>();
    const unique = items.filter((i) => {
      const id = `${i.table}|${JSON.stringify(i.key)}`;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
    for (let i = 0; i < unique.length; i += CHUNK) {
      let pending = unique.slice(i, i + CHUNK);
      for (let attempt = 0; pending.length > 0; attempt++) {
        const counts: Partial<Record<StoreName, number>> = {};
        for (const p of pending) counts[p.store] = (counts[p.store] ?? 0) + 1;
        try {
          await this.db.send(
            new TransactWriteCommand({
              TransactItems: [
                ...pending.map((p) => ({
                  Delete: { TableName: p.table, Key: p.key, ConditionExpression: 'attribute_exists(pk)' },
                })),
                this.countUpdate(ctx.record, counts, 0),
              ],
            }),
          );
          ctx.progress.made = true;
          pending = [];
        } catch (err) {
          if (!(err instanceof TransactionCanceledException) || attempt >= MAX_ATTEMPTS) throw err;
          const reasons = err.CancellationReasons ?? [];
          const gone = new Set(
            reasons.flatMap((r, j) => (r.Code === 'ConditionalCheckFailed' && j < pending.length ? [j] : [])),
          );
          if (gone.size > 0) pending = pending.filter((_, j) => !gone.has(j));
          else await backoff(attempt);
        }
      }
      ctx.fault(`${ctx.point}:chunk`);
    }
  }

  private countUpdate(
    record: DeletionRecord,
    counts: Partial<Record<StoreName, number>>,
    factsUpdated: number,
  ): TransactItem {
    const adds = Object.entries(counts).map(([store], i) => `c_${store} :n${i}`);
    const values: Record<string, unknown> = Object.fromEntries(
      Object.values(counts).map((n, i) => [`:n${i}`, n]),
    );
    if (factsUpdated) {
      adds.push('factsUpdated :fu');
      values[':fu'] = factsUpdated;
    }
    return {
      Update: {
        TableName: this.t.registry,
        Key: keys.deletion(record.tenantId, record.id),
        UpdateExpression: `SET updatedAt = :now ADD ${adds.join(', ')}`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ...values, ':now': new Date().toISOString() },
      },
    };
  }

  private async query(input: QueryCommandInput) {
    const out = await this.db.send(new QueryCommand({ ...input, ConsistentRead: true }));
    return { items: (out.Items ?? []) as Key[], next: out.LastEvaluatedKey };
  }

  /** Every item under a key condition, a page at a time (the caller deletes as it goes). */
  private async *pages(input: QueryCommandInput): AsyncGenerator<Key[]> {
    let start: Key | undefined;
    do {
      const out = await this.query({ ...input, Limit: PAGE, ExclusiveStartKey: start });
      if (out.items.length) yield out.items;
      start = out.next;
    } while (start);
  }
}

class OutOfTime extends Error {}

interface RunContext {
  record: DeletionRecord;
  /** where the run is (`<pass>:<step>[:<session step>]`): the name of its fault points */
  point: string;
  /** whether this delivery removed anything or finished a step yet */
  progress: { made: boolean };
  fault: FaultHook;
}

/** The part of a registry listing's sort key after its kind: `C#<digest>` → digest. */
const refOf = (item: Key) => String(item.sk).slice(2);

function toRecord(item: Record<string, unknown>): DeletionRecord {
  const counts: DeletionRecord['counts'] = {};
  for (const store of deletionStoreNames) {
    const n = item[`c_${store}`];
    if (typeof n === 'number' && n > 0) counts[store] = n;
  }
  const ids = item.sessionIds;
  return {
    id: String(item.id),
    tenantId: String(item.tenantId),
    kind: item.kind as DeletionKind,
    status: item.status as DeletionRecord['status'],
    pass: Number(item.pass) as 1 | 2,
    step: item.step as DeletionStep,
    ...(item.target ? { target: item.target as DeletionTarget } : {}),
    ...(ids instanceof Set ? { sessionIds: [...(ids as Set<string>)].sort() } : {}),
    counts,
    factsUpdated: Number(item.factsUpdated ?? 0),
    createdAt: String(item.createdAt),
    updatedAt: String(item.updatedAt),
    ...(item.sweepAt !== undefined ? { sweepAt: Number(item.sweepAt) } : {}),
    ...(item.completedAt ? { completedAt: String(item.completedAt) } : {}),
    ...(item.auditSeq !== undefined ? { auditSeq: Number(item.auditSeq) } : {}),
    ...(item.sessionsDeleted !== undefined ? { sessionsDeleted: Number(item.sessionsDeleted) } : {}),
  } as DeletionRecord;
}

/** The deletion queue: one message per deletion to run (again, after a delay, for its sweep). */
export class DeletionQueue {
  constructor(
    private readonly queueUrl = env('deletionQueueUrl'),
    private readonly sqs: SQSClient = sqsClient(),
  ) {}

  async enqueue(tenantId: string, deletionId: string, delaySeconds = 0): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify({ tenantId, deletionId }),
        // SQS delays a message at most 15 minutes; a longer wait is made of several.
        DelaySeconds: Math.min(900, Math.max(0, Math.ceil(delaySeconds))),
      }),
    );
  }
}
