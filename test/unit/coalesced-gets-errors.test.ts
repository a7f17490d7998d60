import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { coalescingGets } from '../../lambdas/stores/coalesced-gets';

type Keys = Record<string, { Keys: Record<string, unknown>[] }>;

/** Error mapping only: a stand-in client whose BatchGet leaves keys unprocessed `times` times. */
function stingy(times: number) {
  let calls = 0;
  const db = {
    send: async (command: { input: { RequestItems: Keys } }) => {
      calls++;
      const asked = command.input.RequestItems;
      if (calls <= times) return { Responses: {}, UnprocessedKeys: asked };
      // Answers each key with an item that is its key and the table it came from.
      const Responses = Object.fromEntries(
        Object.entries(asked).map(([table, { Keys }]) => [table, Keys.map((k) => ({ ...k, table }))]),
      );
      return { Responses };
    },
  } as unknown as DynamoDBDocumentClient;
  return { db, calls: () => calls };
}

const get = (db: DynamoDBDocumentClient, TableName: string, pk: string) =>
  db.send(new GetCommand({ TableName, Key: { pk }, ConsistentRead: true })).then((out) => out.Item);

describe('coalescingGets', () => {
  it('asks again for the keys DynamoDB left unprocessed, and answers each read its own item', async () => {
    const { db, calls } = stingy(2);
    const reads = coalescingGets(db);
    const items = await Promise.all([get(reads, 'A', 'a1'), get(reads, 'B', 'b1'), get(reads, 'A', 'a2')]);
    expect(items).toEqual([
      { pk: 'a1', table: 'A' },
      { pk: 'b1', table: 'B' },
      { pk: 'a2', table: 'A' },
    ]);
    expect(calls()).toBe(3);
  });

  it('fails every read (store_unavailable) rather than answer "no item" when keys stay unprocessed', async () => {
    const reads = coalescingGets(stingy(Number.POSITIVE_INFINITY).db);
    const settled = await Promise.allSettled([get(reads, 'A', 'a1'), get(reads, 'B', 'b1')]);
    for (const s of settled) {
      expect(s).toMatchObject({ status: 'rejected', reason: { status: 503, code: 'store_unavailable' } });
    }
  }, 10_000);
});
