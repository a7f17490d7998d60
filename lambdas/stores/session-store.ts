import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { env, envInt } from '../config';
import { DeletedError, StoreUnavailableError, VersionConflictError } from '../domain/errors';
import { expired, type SessionEvent, type SessionRef, type SessionState } from '../domain/session';
import { dynamo } from './clients';
import { keys } from './keys';
import { conditionFailedIn, Registry } from './registry';

const DEFAULT_EVENT_RETENTION_SECONDS = 30 * 24 * 3600;
/** Retries, with jittered backoff, when only lastSeq moved (an audit event landed between our read
 * and write) or DynamoDB cancelled the transaction for a concurrent one on the same item. */
const MAX_RETRIES = 8;

/** `logEnd`: the seq the log ends at; for a session re-created after its item expired, that is where
 * the old incarnation's events (which outlive it) end, and the new events must start after it. */
export type Mutation = (
  prev: SessionState | null,
  logEnd: number,
) => { state: SessionState; events: SessionEvent[] };

export interface CommitOptions {
  /** compare-and-swap: the version the caller last saw (0 = the session must not exist). Omit for
   * writes that do not depend on the content (audit events). */
  expectedVersion?: number;
  /** more writes for the same transaction (e.g. completing a tool call record with its event); if one
   * of their conditions fails, commit throws the TransactionCanceledException as is, without retrying. */
  alsoWrite?: (state: SessionState) => NonNullable<TransactWriteCommandInput['TransactItems']>;
}

/**
 * Session items and their event log. Every change goes through commit(): the new state and its events
 * are written in one transaction, conditioned on the state read, so a state never changes without its
 * events and no event exists without its state.
 */
export class SessionStore {
  constructor(
    private readonly sessionsTable = env('sessionsTable'),
    /** resolved on first use: readers that only get() (context, cache) need no event log */
    private eventsTableName?: string,
    private readonly db = dynamo(),
    /** tombstones and the user -> sessions listing (null: none deployed) */
    private readonly registry: Registry | null = Registry.fromEnv(),
  ) {}

  private get eventsTable(): string {
    this.eventsTableName ??= env('eventsTable');
    return this.eventsTableName;
  }

  async get(ref: SessionRef): Promise<SessionState | null> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.sessionsTable,
        Key: keys.session(ref.tenantId, ref.sessionId),
        ConsistentRead: true,
      }),
    );
    // An expired session reads as absent everywhere, though DynamoDB's TTL has not deleted it yet.
    return out.Item && !expired(out.Item as SessionState, Date.now()) ? toState(out.Item) : null;
  }

  async commit(ref: SessionRef, mutate: Mutation, opts: CommitOptions = {}): Promise<SessionState> {
    for (let attempt = 0; ; attempt++) {
      const prev = await this.get(ref);
      const current = prev?.version ?? 0;
      if (opts.expectedVersion !== undefined && opts.expectedVersion !== current) {
        throw new VersionConflictError(opts.expectedVersion, current);
      }
      const { state, events } = mutate(prev, prev ? prev.lastSeq : await this.lastEventSeq(ref));
      const guards = this.guards(ref, prev, state);
      try {
        await this.write(ref, prev, state, events, [...guards.items, ...(opts.alsoWrite?.(state) ?? [])]);
        return state;
      } catch (err) {
        const own = 1 + events.length;
        if (conditionFailedIn(err, own, 1)) throw new DeletedError('session', ref.sessionId);
        if (guards.binds && conditionFailedIn(err, own + 1, 1)) throw new DeletedError('user', state.userId!);
        if (extraConditionFailed(err, own + guards.items.length)) throw err;
        const race = lostRace(err);
        if (race === undefined) throw err;
        if (race.winner !== undefined && opts.expectedVersion !== undefined) {
          const winnerVersion = race.winner ? Number(race.winner.version) : 0;
          if (winnerVersion !== opts.expectedVersion) {
            throw new VersionConflictError(opts.expectedVersion, winnerVersion);
          }
        }
        // Only the log moved, or DynamoDB cancelled for a concurrent transaction: re-read and retry.
        if (attempt >= MAX_RETRIES) throw new StoreUnavailableError('sessions', err);
        await new Promise((r) => setTimeout(r, Math.random() * 10 * 2 ** Math.min(attempt, 5)));
      }
    }
  }

  /**
   * Every write of a session is refused once it has a tombstone (a deletion under way), and the write
   * that binds it to a user also checks the user's tombstone and lists the session under the user, in
   * the same transaction: a user's deletion finds every session it has, and none is added after.
   */
  private guards(ref: SessionRef, prev: SessionState | null, state: SessionState) {
    if (!this.registry) return { items: [], binds: false };
    const binds = state.userId !== undefined && state.userId !== prev?.userId;
    return {
      binds,
      items: [
        this.registry.notDeleted(ref.tenantId, 'session', ref.sessionId),
        ...(binds
          ? [
              this.registry.notDeleted(ref.tenantId, 'user', state.userId!),
              this.registry.bindUser(ref.tenantId, state.userId!, ref.sessionId),
            ]
          : []),
      ],
    };
  }

  /** Where the session's log ends (0 for none): one Query, only when a session is created. */
  private async lastEventSeq(ref: SessionRef): Promise<number> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.eventsTable,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': keys.events(ref.tenantId, ref.sessionId).pk },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
        ProjectionExpression: 'seq',
      }),
    );
    return Number(out.Items?.[0]?.seq ?? 0);
  }

  async listEvents(
    ref: SessionRef,
    after: number,
    limit: number,
  ): Promise<{ events: SessionEvent[]; next: number | null }> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.eventsTable,
        KeyConditionExpression: 'pk = :pk AND seq > :after',
        ExpressionAttributeValues: { ':pk': keys.events(ref.tenantId, ref.sessionId).pk, ':after': after },
        Limit: limit,
        ConsistentRead: true,
      }),
    );
    const events = (out.Items ?? []).map(
      (i) => ({ seq: i.seq, type: i.type, at: i.at, data: i.data }) as SessionEvent,
    );
    return { events, next: out.LastEvaluatedKey ? Number(out.LastEvaluatedKey.seq) : null };
  }

  private async write(
    ref: SessionRef,
    prev: SessionState | null,
    state: SessionState,
    events: SessionEvent[],
    extra: NonNullable<TransactWriteCommandInput['TransactItems']>,
  ) {
    const key = keys.session(ref.tenantId, ref.sessionId);
    const eventTtl =
      Math.floor(Date.now() / 1000) + envInt('eventRetentionSeconds', DEFAULT_EVENT_RETENTION_SECONDS);
    await this.db.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: this.sessionsTable,
              Item: { ...key, ...state },
              ...(prev
                ? {
                    ConditionExpression: 'version = :v AND lastSeq = :s',
                    ExpressionAttributeValues: { ':v': prev.version, ':s': prev.lastSeq },
                  }
                : {
                    // Absent, or expired and not yet deleted by TTL: `expectedVersion: 0` re-creates it.
                    ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :now',
                    ExpressionAttributeValues: { ':now': Math.floor(Date.now() / 1000) },
                  }),
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
          ...events.map((e) => ({
            Put: {
              TableName: this.eventsTable,
              Item: { ...keys.event(ref.tenantId, ref.sessionId, e.seq), ...e, expiresAt: eventTtl },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          })),
          ...extra,
        ],
      }),
    );
  }
}

/** True if a condition of an item after the session and its events (an alsoWrite item) failed. */
function extraConditionFailed(err: unknown, ownItems: number): boolean {
  if (!(err instanceof TransactionCanceledException)) return false;
  return (err.CancellationReasons ?? []).slice(ownItems).some((r) => r.Code === 'ConditionalCheckFailed');
}

/**
 * Whether err means another writer got in first: `winner` is the session item it left (null if there
 * is none, undefined if DynamoDB only reported a conflicting transaction). undefined: not a race.
 */
function lostRace(err: unknown): { winner?: Record<string, unknown> | null } | undefined {
  if (!(err instanceof TransactionCanceledException)) return undefined;
  const reasons = err.CancellationReasons ?? [];
  if (reasons.some((r) => r.Code === 'ConditionalCheckFailed')) {
    const item = reasons[0]?.Item;
    return { winner: item ? unmarshall(item) : null };
  }
  if (reasons.some((r) => r.Code === 'TransactionConflict')) return {};
  return undefined;
}

function toState(item: Record<string, unknown>): SessionState {
  const { pk: _pk, ...state } = item;
  return state as unknown as SessionState;
}
