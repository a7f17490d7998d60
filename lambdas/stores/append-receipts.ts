import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { env } from '../config';
import type { AppendReceipt } from '../domain/append-receipt';
import type { SessionRef } from '../domain/session';
import { dynamo } from './clients';
import { keys } from './keys';
import { Registry } from './registry';

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** Append receipts in the idempotency table (keys.appendReceipt), written with the append they answer. */
export class AppendReceipts {
  constructor(
    private readonly table = env('idempotencyTable'),
    private readonly db = dynamo(),
    private readonly registry: Registry | null = Registry.fromEnv(),
  ) {}

  /** The receipt for this key, or null; one past its expiry reads as absent (TTL deletes late). */
  async get(ref: SessionRef, key: string): Promise<AppendReceipt | null> {
    const out = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: keys.appendReceipt(ref.tenantId, ref.sessionId, key),
        ConsistentRead: true,
      }),
    );
    const item = out.Item;
    if (!item || Number(item.expiresAt) <= Date.now() / 1000) return null;
    return { bodyHash: item.bodyHash, answer: item.answer, expiresAt: Number(item.expiresAt) };
  }

  /** The receipt's Put for the append's transaction: it fails (and with it the append) if a live
   * receipt for the key exists, i.e. a concurrent request with the same key landed first. Its listing
   * under the session (what a deletion follows) is written in the same transaction. */
  putItems(ref: SessionRef, key: string, receipt: AppendReceipt): TransactItem[] {
    const pk = keys.appendReceipt(ref.tenantId, ref.sessionId, key).pk;
    const listing = this.registry
      ? [this.registry.ownedPut(ref.tenantId, ref.sessionId, 'I', pk, { expiresAt: receipt.expiresAt })]
      : [];
    return [this.putItem(ref, key, receipt), ...listing];
  }

  private putItem(ref: SessionRef, key: string, receipt: AppendReceipt): TransactItem {
    return {
      Put: {
        TableName: this.table,
        Item: { ...keys.appendReceipt(ref.tenantId, ref.sessionId, key), ...receipt },
        ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :now',
        ExpressionAttributeValues: { ':now': Math.floor(Date.now() / 1000) },
      },
    };
  }
}
