import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../lambdas/domain/errors';
import { appendTurns } from '../../lambdas/domain/session';
import { SessionStore } from '../../lambdas/stores/session-store';

/** Error mapping only: a stand-in client that answers reads with nothing and cancels writes as told. */
function fakeDb(cancellations: number) {
  let writes = 0;
  const send = async (command: { constructor: { name: string } }) => {
    const name = command.constructor.name;
    if (name === 'GetCommand') return {};
    if (name === 'QueryCommand') return { Items: [] };
    writes++;
    if (writes <= cancellations) {
      throw new TransactionCanceledException({
        message: 'Transaction cancelled',
        $metadata: {},
        CancellationReasons: [{ Code: 'TransactionConflict' }, { Code: 'None' }],
      });
    }
    return {};
  };
  return { db: { send } as unknown as DynamoDBDocumentClient, writes: () => writes };
}

const ref = { tenantId: 't', sessionId: 's' };
const create = (store: SessionStore) =>
  store.commit(
    ref,
    (prev, logEnd) =>
      appendTurns(prev, ref, {
        turns: [{ role: 'user', content: 'hi', tokens: 1 }],
        at: new Date().toISOString(),
        ttlSeconds: 60,
        afterSeq: logEnd,
      }),
    { expectedVersion: 0 },
  );

describe('SessionStore.commit under DynamoDB transaction conflicts', () => {
  it('retries a transaction DynamoDB cancelled for a concurrent one', async () => {
    const fake = fakeDb(2);
    const state = await create(new SessionStore('sessions', 'events', fake.db));
    expect(state.version).toBe(1);
    expect(fake.writes()).toBe(3);
  });

  it('gives up with 503 store_unavailable, never a raw error, when conflicts persist', async () => {
    const fake = fakeDb(100);
    const outcome = create(new SessionStore('sessions', 'events', fake.db));
    await expect(outcome).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(outcome).rejects.toMatchObject({ status: 503, code: 'store_unavailable' });
  });
});
