import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { env } from '../config';
import type { SessionRef } from '../domain/session';
import { recordToolInvoked, type ToolCallRecord } from '../domain/tool-call';
import {
  type Claim,
  type ClaimResult,
  type Completion,
  LockLostError,
  type ToolCallRecords,
} from '../domain/tool-execution';
import { dynamo } from './clients';
import { SessionStore } from './session-store';

/**
 * Idempotency records in DynamoDB, one item per tool call key (keys.toolCall). Every state change is a
 * conditional write: a claim succeeds only on a free, expired or abandoned record; release and complete
 * only while the caller still holds the lock it was given.
 */
export class ToolCallStore implements ToolCallRecords {
  constructor(
    private readonly sessions = new SessionStore(),
    private readonly table = env('idempotencyTable'),
    private readonly db = dynamo(),
  ) {}

  async claim(key: string, c: Claim): Promise<ClaimResult> {
    const now = Date.now();
    const lockToken = randomUUID();
    try {
      const out = await this.db.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: key },
          UpdateExpression:
            'SET #status = :ip, lockToken = :tok, lockExpiresAt = :lock, argsHash = :h, toolName = :tool, ' +
            'stepIndex = :step, policyVersion = :pv, expiresAt = :exp, claimedAt = :at, ' +
            'attempts = if_not_exists(attempts, :zero) + :one ' +
            'REMOVE #result, #error, durationMs, completedAt, eventSeq',
          // Free, past its TTL (DynamoDB deletes late), or in progress under an expired lock with the same arguments.
          ConditionExpression:
            'attribute_not_exists(pk) OR expiresAt < :nowS OR ' +
            '(#status = :ip AND lockExpiresAt < :nowMs AND argsHash = :h)',
          ExpressionAttributeNames: { '#status': 'status', '#result': 'result', '#error': 'error' },
          ExpressionAttributeValues: {
            ':ip': 'in_progress',
            ':tok': lockToken,
            ':lock': now + c.lockMs,
            ':h': c.argsHash,
            ':tool': c.toolName,
            ':step': c.stepIndex,
            ':pv': c.policyVersion,
            ':exp': Math.floor(now / 1000) + c.ttlSeconds,
            ':at': new Date(now).toISOString(),
            ':zero': 0,
            ':one': 1,
            ':nowS': Math.floor(now / 1000),
            ':nowMs': now,
          },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      const attempts = Number(out.Attributes?.attempts ?? 1);
      return { claimed: true, lockToken, attempts, tookOver: attempts > 1 };
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      if (err.Item) return { claimed: false, record: toRecord(unmarshall(err.Item)) };
      // The record vanished between the check and now (released): treat as taken; the caller may retry.
      const record = await this.get(key);
      if (!record) return this.claim(key, c);
      return { claimed: false, record };
    }
  }

  async get(key: string): Promise<ToolCallRecord | null> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: { pk: key }, ConsistentRead: true }),
    );
    return out.Item ? toRecord(out.Item) : null;
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

  async complete(ref: SessionRef, key: string, lockToken: string, done: Completion): Promise<ToolCallRecord> {
    const completedAt = new Date().toISOString();
    const { claim } = done;
    let eventSeq = 0;
    try {
      await this.sessions.commit(
        ref,
        (prev) =>
          recordToolInvoked(
            prev,
            ref,
            {
              tool: claim.toolName,
              stepIndex: claim.stepIndex,
              idempotencyKey: key,
              durationMs: done.durationMs,
              outcome: done.status,
              attempts: done.attempts,
              policyVersion: claim.policyVersion,
              ...(done.error ? { error: done.error.reason } : {}),
            },
            completedAt,
          ),
        {
          // The record's completion rides in the event's transaction: one event per completion, never two.
          alsoWrite: (state) => {
            eventSeq = state.lastSeq;
            return [
              {
                Update: {
                  TableName: this.table,
                  Key: { pk: key },
                  UpdateExpression:
                    'SET #status = :st, #result = :r, #error = :e, durationMs = :d, completedAt = :at, ' +
                    'eventSeq = :seq REMOVE lockToken, lockExpiresAt',
                  ConditionExpression: '#status = :ip AND lockToken = :tok',
                  ExpressionAttributeNames: { '#status': 'status', '#result': 'result', '#error': 'error' },
                  ExpressionAttributeValues: {
                    ':st': done.status,
                    ':r': done.status === 'completed' ? (done.result ?? null) : null,
                    ':e': done.error ?? null,
                    ':d': done.durationMs,
                    ':at': completedAt,
                    ':seq': state.lastSeq,
                    ':ip': 'in_progress',
                    ':tok': lockToken,
                  },
                },
              },
            ];
          },
        },
      );
    } catch (err) {
      if (
        err instanceof TransactionCanceledException &&
        err.CancellationReasons?.at(-1)?.Code === 'ConditionalCheckFailed'
      ) {
        throw new LockLostError(`lock on ${key} was taken over`);
      }
      throw err;
    }
    return {
      status: done.status,
      argsHash: claim.argsHash,
      toolName: claim.toolName,
      stepIndex: claim.stepIndex,
      policyVersion: claim.policyVersion,
      attempts: done.attempts,
      ...(done.status === 'completed' ? { result: done.result ?? null } : { error: done.error }),
      durationMs: done.durationMs,
      completedAt,
      eventSeq,
      expiresAt: Math.floor(Date.now() / 1000) + claim.ttlSeconds,
    };
  }
}

function toRecord(item: Record<string, unknown>): ToolCallRecord {
  const { pk: _pk, claimedAt: _c, ...rest } = item;
  return rest as unknown as ToolCallRecord;
}
