import { createHash, randomBytes } from 'node:crypto';
import { GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { env } from '../config';
import { AppError } from '../domain/errors';
import { dynamo } from './clients';
import { keys } from './keys';

/** API keys are 256 random bits; a plain SHA-256 of such a key is not brute-forceable. */
export const hashApiKey = (apiKey: string) => createHash('sha256').update(apiKey, 'utf8').digest('hex');

/** What the authorizer accepts as a key after `Bearer `. */
export const apiKeyPattern = /^\S{8,256}$/;

export const newApiKey = () => `cp_${randomBytes(32).toString('base64url')}`;

export class TenantStore {
  constructor(
    private readonly table = env('tenantsTable'),
    private readonly db = dynamo(),
  ) {}

  /** The tenant of a request's `Authorization: Bearer <key>` header, or null (no such key, or malformed). */
  async tenantOfHeader(headers: Record<string, string | undefined> | undefined): Promise<string | null> {
    const match = /^Bearer\s+(\S+)$/i.exec(headers?.authorization ?? headers?.Authorization ?? '');
    return match?.[1] && apiKeyPattern.test(match[1]) ? this.tenantOfKey(match[1]) : null;
  }

  /** The tenant an API key belongs to, or null. */
  async tenantOfKey(apiKey: string): Promise<string | null> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: keys.apiKey(hashApiKey(apiKey)) }),
    );
    return typeof out.Item?.tenantId === 'string' ? out.Item.tenantId : null;
  }

  /** Creates a tenant with the given key (local seeding) or a new random one; returns the key. */
  async create(tenantId: string, apiKey = newApiKey()): Promise<string> {
    const now = new Date().toISOString();
    const keyHash = hashApiKey(apiKey);
    try {
      await this.db.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.table,
                Item: { ...keys.tenant(tenantId), tenantId, createdAt: now },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Put: {
                TableName: this.table,
                Item: { ...keys.apiKey(keyHash), tenantId, createdAt: now },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
          ],
        }),
      );
    } catch (err) {
      if ((err as Error).name === 'TransactionCanceledException') {
        throw new AppError(409, 'tenant_exists', `tenant '${tenantId}' (or that key) already exists`);
      }
      throw err;
    }
    return apiKey;
  }
}
