import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  ScanCommand,
  type ScanCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { type EnvKey, env } from '../config';
import { dynamo } from './clients';
import { keys } from './keys';

/**
 * Operator commands over whole tenants (the CLI's `tenant list` and `tenant delete`). They Scan,
 * which no request path does: a tenant's items are spread over every partition of every table, and
 * these run rarely, by hand, against a table's whole size.
 */

const BATCH = 25;

export class TenantAdmin {
  constructor(private readonly db: DynamoDBDocumentClient = dynamo()) {}

  async list(): Promise<{ tenantId: string; createdAt: string; keys: number }[]> {
    const tenants = new Map<string, { tenantId: string; createdAt: string; keys: number }>();
    for await (const item of this.scan({ TableName: env('tenantsTable') })) {
      const id = String(item.tenantId ?? '');
      const entry = tenants.get(id) ?? { tenantId: id, createdAt: '', keys: 0 };
      if (String(item.pk) === keys.tenant(id).pk) entry.createdAt = String(item.createdAt ?? '');
      else entry.keys++;
      tenants.set(id, entry);
    }
    return [...tenants.values()].sort((a, b) => a.tenantId.localeCompare(b.tenantId));
  }

  /** Revokes every API key of the tenant: from now on no request is authorized as it. */
  async revokeKeys(tenantId: string): Promise<number> {
    return this.deleteAll(env('tenantsTable'), {
      FilterExpression: 'begins_with(pk, :key) AND tenantId = :t',
      ExpressionAttributeValues: { ':key': 'KEY#', ':t': tenantId },
    });
  }

  /** Deletes every item of the tenant from a table (its keys all start with T#<tenant>#). */
  async purge(table: EnvKey, tenantId: string): Promise<number> {
    return this.deleteAll(env(table), {
      FilterExpression: 'begins_with(pk, :prefix)',
      ExpressionAttributeValues: { ':prefix': keys.tenantPrefix(tenantId) },
    });
  }

  private async deleteAll(
    table: string,
    filter: Pick<ScanCommandInput, 'FilterExpression' | 'ExpressionAttributeValues'>,
  ): Promise<number> {
    let batch: Record<string, unknown>[] = [];
    let n = 0;
    const flush = async () => {
      let pending = batch.map((Key) => ({ DeleteRequest: { Key } }));
      batch = [];
      for (let attempt = 0; pending.length; attempt++) {
        if (attempt) await new Promise((r) => setTimeout(r, 50 * 2 ** Math.min(attempt, 6)));
        const out = await this.db.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
        pending = (out.UnprocessedItems?.[table] ?? []) as typeof pending;
      }
    };
    for await (const item of this.scan({ TableName: table, ...filter })) {
      const { pk, sk, seq } = item;
      batch.push({ pk, ...(sk !== undefined ? { sk } : {}), ...(seq !== undefined ? { seq } : {}) });
      n++;
      if (batch.length === BATCH) await flush();
    }
    if (batch.length) await flush();
    return n;
  }

  private async *scan(input: ScanCommandInput): AsyncGenerator<Record<string, unknown>> {
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(new ScanCommand({ ...input, ExclusiveStartKey: start }));
      yield* out.Items ?? [];
      start = out.LastEvaluatedKey;
    } while (start);
  }
}
