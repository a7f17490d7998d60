import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { FactStore } from '../../lambdas/stores/fact-store';

/** Error mapping only: a stand-in client whose BatchGet never serves the keys it was asked for. */
const db = {
  send: async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
    const name = command.constructor.name;
    if (name === 'QueryCommand') {
      // A scope's whole lineages partition: one head, whose fact has the query's term.
      const indexed = { terms: ['order'], counts: [1], length: 2, atMs: Date.now() };
      return { Items: [{ lineageId: 'l-1', factId: 'f-1', version: 1, rev: 1, pinned: false, indexed }] };
    }
    if (name === 'BatchGetCommand') {
      const requested = (command.input.RequestItems as Record<string, { Keys: unknown[] }>).Facts!.Keys;
      return { Responses: { Facts: [] }, UnprocessedKeys: { Facts: { Keys: requested } } };
    }
    throw new Error(`unexpected ${name}`);
  },
} as unknown as DynamoDBDocumentClient;

describe('FactStore.search()', () => {
  it('fails (store_unavailable) rather than answer short when DynamoDB keeps keys unprocessed', async () => {
    const store = new FactStore('Facts', db, { count: () => 1 });
    const query = { query: 'order', topK: 5, halfLifeDays: 30, pinnedBoost: 2, minScore: 0, now: new Date() };
    await expect(store.search('t', query)).rejects.toMatchObject({ status: 503, code: 'store_unavailable' });
  }, 10_000);
});
