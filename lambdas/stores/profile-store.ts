import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { env } from '../config';
import { VersionConflictError } from '../domain/errors';
import { type Profile, type ProfileValue, renderLines } from '../domain/profile';
import { type TokenCounter, tiktokenCounter } from '../domain/tokens';
import { dynamo } from './clients';
import { keys } from './keys';
import { Registry } from './registry';

/**
 * User profiles, one item per (tenant, user), replaced whole by compare-and-swap on its version:
 * expectedVersion 0 creates, any other must equal the stored version. Lines and their token counts
 * are rendered here, once per write.
 */
export class ProfileStore {
  constructor(
    private readonly table = env('profilesTable'),
    private readonly db: DynamoDBDocumentClient = dynamo(),
    private readonly tokens: TokenCounter = tiktokenCounter,
    private readonly registry: Registry | null = Registry.fromEnv(),
  ) {}

  async get(tenantId: string, userId: string): Promise<Profile | null> {
    const out = await this.db.send(
      new GetCommand({ TableName: this.table, Key: keys.profile(tenantId, userId), ConsistentRead: true }),
    );
    return out.Item ? toProfile(out.Item) : null;
  }

  async put(
    tenantId: string,
    userId: string,
    expectedVersion: number,
    attributes: Record<string, ProfileValue>,
  ): Promise<Profile> {
    // A user being deleted gets no new profile (a write racing the check is caught by the last sweep).
    await this.registry?.assertLive(tenantId, 'user', userId);
    const profile: Profile = {
      userId,
      version: expectedVersion + 1,
      attributes,
      lines: renderLines(attributes, this.tokens),
      updatedAt: new Date().toISOString(),
    };
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...keys.profile(tenantId, userId), ...profile },
          ...(expectedVersion === 0
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : { ConditionExpression: 'version = :v', ExpressionAttributeValues: { ':v': expectedVersion } }),
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (err) {
      if (!(err instanceof ConditionalCheckFailedException)) throw err;
      const current = err.Item ? Number(unmarshall(err.Item).version) : 0;
      throw new VersionConflictError(expectedVersion, current);
    }
    return profile;
  }
}

function toProfile(item: Record<string, unknown>): Profile {
  const { pk: _pk, ...profile } = item;
  return profile as unknown as Profile;
}
