import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { envNames } from '../config';
import { DeletedError } from '../domain/errors';
import { lineageIdOf, scopeOf } from '../domain/fact-upsert';
import type { FactWriter } from '../domain/facts';
import { dynamo } from './clients';
import { keys } from './keys';

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/**
 * The registry table: tombstones of sessions and users being deleted, and the listings a deletion
 * follows to find what a user or session owns without a Scan (layout in keys.ts). Writers add to the
 * listings before (or atomically with) what they list, so nothing exists that a deletion cannot find.
 */
export class Registry {
  constructor(
    readonly table: string,
    private readonly db: DynamoDBDocumentClient = dynamo(),
  ) {}

  /** The deployment's registry, or null where none is configured (a store built outside a Lambda). */
  static fromEnv(): Registry | null {
    const table = process.env[envNames.registryTable];
    return table ? new Registry(table) : null;
  }

  /** A transaction item that fails while the session or user has a tombstone. */
  notDeleted(tenantId: string, kind: 'session' | 'user', id: string): TransactItem {
    return {
      ConditionCheck: {
        TableName: this.table,
        Key: keys.tombstone(tenantId, kind, id),
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
  }

  /** The user → session listing item, written in the transaction that binds the session to the user. */
  bindUser(tenantId: string, userId: string, sessionId: string): TransactItem {
    return {
      Put: { TableName: this.table, Item: { ...keys.userSession(tenantId, userId, sessionId), userId } },
    };
  }

  /** Lists an item the session owns (written before that item); it expires with the item. */
  ownedPut(
    tenantId: string,
    sessionId: string,
    kind: 'I' | 'C' | 'R' | 'F',
    ref: string,
    extra: Record<string, unknown> = {},
  ): TransactItem & { Put: NonNullable<TransactItem['Put']> } {
    return {
      Put: { TableName: this.table, Item: { ...keys.ownedItem(tenantId, sessionId, kind, ref), ...extra } },
    };
  }

  async putOwned(
    tenantId: string,
    sessionId: string,
    kind: 'I' | 'C' | 'R' | 'F',
    ref: string,
    extra: Record<string, unknown> = {},
  ): Promise<void> {
    await this.db.send(new PutCommand(this.ownedPut(tenantId, sessionId, kind, ref, extra).Put));
  }

  async isDeleted(tenantId: string, kind: 'session' | 'user', id: string): Promise<boolean> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: keys.tombstone(tenantId, kind, id),
        ConsistentRead: true,
      }),
    );
    return out.Item !== undefined;
  }

  /** Refuses a write to a deleted session or user (404); the deletion's last sweep catches a write
   * that began before its tombstone and landed after its first pass. */
  async assertLive(tenantId: string, kind: 'session' | 'user', id: string): Promise<void> {
    if (await this.isDeleted(tenantId, kind, id)) throw new DeletedError(kind, id);
  }
}

/** Whether a cancelled transaction failed on one of the items at [from, from + count). */
export function conditionFailedIn(err: unknown, from: number, count: number): boolean {
  if (!(err instanceof TransactionCanceledException)) return false;
  return (err.CancellationReasons ?? [])
    .slice(from, from + count)
    .some((r) => r.Code === 'ConditionalCheckFailed');
}

/**
 * A fact writer that refuses facts for a user or session being deleted, or citing such a session
 * (checked before the write; one racing the tombstone is removed by the deletion's sweep), and lists
 * the fact's lineage under every session it cites, before writing it: a session's deletion finds the
 * facts that cite it in any scope.
 */
export function checkedFactWriter(writer: FactWriter, registry: Registry | null): FactWriter {
  if (!registry) return writer;
  return {
    upsert: async (tenantId, input) => {
      const sessions = new Set([
        ...(input.sessionId ? [input.sessionId] : []),
        ...(input.citations ?? []).flatMap((c) => (c.sessionId ? [c.sessionId] : [])),
      ]);
      await Promise.all([
        ...(input.userId ? [registry.assertLive(tenantId, 'user', input.userId)] : []),
        ...[...sessions].map((id) => registry.assertLive(tenantId, 'session', id)),
      ]);
      const scope = scopeOf(input.userId, input.sessionId);
      const lineageId = lineageIdOf(input);
      await Promise.all(
        [...sessions].map((id) =>
          registry.putOwned(tenantId, id, 'F', `${scope}#${lineageId}`, { scope, lineageId }),
        ),
      );
      return writer.upsert(tenantId, input);
    },
  };
}
