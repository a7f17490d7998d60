import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { env } from '../config';
import type { SessionRef } from '../domain/session';
import { recordToolInvoked, type ToolCallRecord } from '../domain/tool-call';
import {
  type Claim,
  type ClaimResult,
  type Completion,
  LockLostError,
  NotStorableError,
  type ToolCallRecords,
} from '../domain/tool-execution';
import { dynamo } from './clients';
import { SessionStore } from './session-store';

/**
 * Idempotency records in DynamoDB, one item per tool call key (keys.toolCall). Every state change is a
 * conditional write: a claim succeeds only on a free (or TTL-expired) record, a takeover only on the
 * abandoned lock it saw; complete and release only while the caller still holds its lock. The outcome
 * is written to the record alone, so completions never contend on the session item; its tool_invoked
 * event follows in a separate transaction that also sets the record's eventSeq, only if unset.
 */
export class ToolCallStore implements ToolCallRecords {
  constructor(
    private readonly sessions = new SessionStore(),
    private readonly table = env('idempotencyTable'),
    private readonly db = dynamo(),
  ) {}

  async claim(key: string, c: Claim): Promise<ClaimResult> {
    for (;;) {
      const now = Date.now();
      const lockToken = randomUUID();
      const fields = {
        status: 'in_progress',
        lockToken,
        lockExpiresAt: now + c.lockMs,
        policyVersion: c.policyVersion,
        expiresAt: Math.floor(now / 1000) + c.ttlSeconds,
        claimedAt: new Date(now).toISOString(),
      };
      let seen: ToolCallRecord | null;
      try {
        // Free, or past its TTL but not yet deleted by DynamoDB: either way a fresh record, attempt 1.
        await this.db.send(
          new PutCommand({
            TableName: this.table,
            Item: {
              pk: key,
              ...fields,
              argsHash: c.argsHash,
              toolName: c.toolName,
              stepIndex: c.stepIndex,
              attempts: 1,
            },
            ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :nowS',
            ExpressionAttributeValues: { ':nowS': Math.floor(now / 1000) },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return { claimed: true, lockToken, attempts: 1, tookOver: false };
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
        seen = err.Item ? toRecord(unmarshall(err.Item)) : await this.get(key);
      }
      if (!seen) continue; // released in between: claim afresh
      const abandoned =
        seen.status === 'in_progress' && (seen.lockExpiresAt ?? 0) < now && seen.argsHash === c.argsHash;
      if (!abandoned) return { claimed: false, record: seen };
      try {
        // Take over exactly the abandoned lock we saw: of several racing takers, one wins.
        const out = await this.db.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: key },
            UpdateExpression:
              'SET lockToken = :tok, lockExpiresAt = :lock, policyVersion = :pv, expiresAt = :exp, ' +
              'claimedAt = :at, attempts = attempts + :one',
            ConditionExpression: '#status = :ip AND lockToken = :seen AND lockExpiresAt < :nowMs',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: {
              ':tok': lockToken,
              ':lock': fields.lockExpiresAt,
              ':pv': fields.policyVersion,
              ':exp': fields.expiresAt,
              ':at': fields.claimedAt,
              ':one': 1,
              ':ip': 'in_progress',
              ':seen': seen.lockToken ?? '',
              ':nowMs': now,
            },
            ReturnValues: 'ALL_NEW',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return { claimed: true, lockToken, attempts: Number(out.Attributes?.attempts), tookOver: true };
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
        if (err.Item) return { claimed: false, record: toRecord(unmarshall(err.Item)) };
      }
    }
  }

  /** The record, or null if there is none or it is past its TTL (DynamoDB deletes expired items late). */
  async get(key: string): Promise<ToolCallRecord | null> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: { pk: key }, ConsistentRead: true }),
    );
    if (!out.Item || Number(out.Item.expiresAt) < Date.now() / 1000) return null;
    return toRecord(out.Item);
  }

  async release(key: string, lockToken: string): Promise<void> {
    try {
      await this.db.send(
        new DeleteCommand({
          TableName: this.table,
          Key: { pk: key },
          ConditionExpression: 'lockToken = :tok',
          ExpressionAttributeValues: { ':tok': lockToken },
        }),
      );
    } catch (err) {
      // Someone took the call over after our lock expired: the record is theirs now.
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
    }
  }

  async complete(key: string, lockToken: string, done: Completion): Promise<ToolCallRecord> {
    const completedAt = new Date().toISOString();
    const attr = done.status === 'completed' ? 'resultJson' : 'errorJson';
    let out: Record<string, unknown> | undefined;
    try {
      out = (
        await this.db.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { pk: key },
            UpdateExpression: `SET #status = :st, ${attr} = :json, durationMs = :d, completedAt = :at REMOVE lockToken, lockExpiresAt`,
            ConditionExpression: '#status = :ip AND lockToken = :tok',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: {
              ':st': done.status,
              ':json': done.json,
              ':d': done.durationMs,
              ':at': completedAt,
              ':ip': 'in_progress',
              ':tok': lockToken,
            },
            ReturnValues: 'ALL_NEW',
          }),
        )
      ).Attributes;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) {
        throw new LockLostError(`lock on ${key} was taken over`);
      }
      // DynamoDB refuses the item itself (e.g. over 400 KB): the executor stores a final failure instead.
      if ((err as Error).name === 'ValidationException') throw new NotStorableError((err as Error).message);
      throw err;
    }
    return toRecord(out ?? {});
  }

  async logEvent(ref: SessionRef, key: string, r: ToolCallRecord): Promise<number> {
    let eventSeq = 0;
    try {
      await this.sessions.commit(
        ref,
        (prev) =>
          recordToolInvoked(
            prev,
            ref,
            {
              tool: r.toolName,
              stepIndex: r.stepIndex,
              idempotencyKey: key,
              durationMs: r.durationMs ?? 0,
              outcome: r.status === 'failed' ? 'failed' : 'completed',
              attempts: r.attempts,
              policyVersion: r.policyVersion,
              ...(r.error ? { error: r.error.reason } : {}),
            },
            new Date().toISOString(),
          ),
        {
          // The event's transaction marks the record, and only a record not yet marked: one event, ever.
          alsoWrite: (state) => {
            eventSeq = state.lastSeq;
            return [
              {
                Update: {
                  TableName: this.table,
                  Key: { pk: key },
                  UpdateExpression: 'SET eventSeq = :seq',
                  ConditionExpression: 'attribute_not_exists(eventSeq) AND completedAt = :at',
                  ExpressionAttributeValues: { ':seq': state.lastSeq, ':at': r.completedAt ?? '' },
                },
              },
            ];
          },
        },
      );
      return eventSeq;
    } catch (err) {
      const marked =
        err instanceof TransactionCanceledException &&
        err.CancellationReasons?.at(-1)?.Code === 'ConditionalCheckFailed';
      if (!marked) throw err;
      // Another call logged it first: its seq is the answer.
      const now = await this.get(key);
      if (now?.eventSeq === undefined) throw err;
      return now.eventSeq;
    }
  }
}

/** Outcomes are JSON text (see storableOutcome); records written before that hold them as maps. */
function toRecord(item: Record<string, unknown>): ToolCallRecord {
  const { pk: _pk, claimedAt: _c, resultJson, errorJson, ...rest } = item;
  const record = rest as unknown as ToolCallRecord;
  if (typeof resultJson === 'string') record.result = JSON.parse(resultJson);
  if (typeof errorJson === 'string') record.error = JSON.parse(errorJson);
  return record;
}
