import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { env } from '../../lambdas/config';
import { dynamo } from '../../lambdas/stores/clients';
import { coalescingGets } from '../../lambdas/stores/coalesced-gets';
import { keys } from '../../lambdas/stores/keys';
import { uniqueId } from '../support/ids';

/** The real client, noting the name of every command it is asked to send (not a mock: it passes on). */
function counting() {
  const sent: string[] = [];
  const db = {
    send: (command: { constructor: { name: string } }, options?: unknown) => {
      sent.push(command.constructor.name);
      return dynamo().send(command as never, options as never);
    },
  } as unknown as DynamoDBDocumentClient;
  return { reads: coalescingGets(db), sent };
}

const get = (db: DynamoDBDocumentClient, TableName: string, Key: Record<string, unknown>) =>
  db.send(new GetCommand({ TableName, Key, ConsistentRead: true })).then((out) => out.Item);

describe('coalescingGets against the emulator', () => {
  it('sends the GetItems of one turn, across tables, as one BatchGetItem and answers each its own', async () => {
    const tenant = uniqueId('t');
    const sessions = env('sessionsTable');
    const recall = env('recallTable');
    await dynamo().send(
      new PutCommand({ TableName: sessions, Item: { ...keys.session(tenant, 's1'), version: 3 } }),
    );
    await dynamo().send(
      new PutCommand({ TableName: recall, Item: { ...keys.recallStats(tenant, 'S:s1'), docs: 7 } }),
    );
    const { reads, sent } = counting();
    const [session, stats, missing, again] = await Promise.all([
      get(reads, sessions, keys.session(tenant, 's1')),
      get(reads, recall, keys.recallStats(tenant, 'S:s1')),
      get(reads, sessions, keys.session(tenant, 'nobody')),
      // The same key twice is one key of the batch (DynamoDB refuses duplicates), answered to both.
      get(reads, sessions, keys.session(tenant, 's1')),
    ]);
    expect(sent).toEqual(['BatchGetCommand']);
    expect(session).toMatchObject({ version: 3 });
    expect(stats).toMatchObject({ docs: 7 });
    expect(missing).toBeUndefined();
    expect(again).toEqual(session);
  });

  it('sends a lone GetItem as a GetItem, and anything else as it is', async () => {
    const tenant = uniqueId('t');
    const { reads, sent } = counting();
    expect(await get(reads, env('sessionsTable'), keys.session(tenant, 's1'))).toBeUndefined();
    // Reads in different turns are not held for each other.
    await get(reads, env('sessionsTable'), keys.session(tenant, 's2'));
    await reads.send(
      new QueryCommand({
        TableName: env('eventsTable'),
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': keys.events(tenant, 's1').pk },
      }),
    );
    // A projection is not a plain read: it is not folded into a batch.
    await Promise.all([
      reads.send(
        new GetCommand({
          TableName: env('sessionsTable'),
          Key: keys.session(tenant, 's1'),
          ProjectionExpression: 'version',
        }),
      ),
      get(reads, env('sessionsTable'), keys.session(tenant, 's3')),
    ]);
    expect(sent).toEqual(['GetCommand', 'GetCommand', 'QueryCommand', 'GetCommand', 'GetCommand']);
  });

  it('fails every read of a batch that fails, with the store error', async () => {
    const { reads } = counting();
    const reads2 = [
      get(reads, 'NoSuchTable', { pk: 'a' }),
      get(reads, env('sessionsTable'), keys.session(uniqueId('t'), 's1')),
    ];
    const settled = await Promise.allSettled(reads2);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
  });
});
