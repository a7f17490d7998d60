import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../lambdas/domain/errors';
import { guarded } from '../../lambdas/stores/clients';

/** The store edge: one wrapper around every store client's send (lambdas/stores/clients.ts). */
const clientThat = (answer: (options?: { abortSignal?: AbortSignal }) => Promise<unknown>) =>
  guarded(
    { send: (_command: unknown, options?: { abortSignal?: AbortSignal }) => answer(options) },
    'dynamodb',
  );

const sdkError = (name: string, fields: Record<string, unknown>) =>
  Object.assign(new Error(name), { name, ...fields });

afterEach(() => {
  delete process.env.CP_STORE_CALL_DEADLINE_MS;
});

describe('guarded store clients', () => {
  it.each([
    ['refused', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
    ['throttled', sdkError('ThrottlingException', { $fault: 'client', $metadata: { httpStatusCode: 400 } })],
    ['5xx', sdkError('InternalServerError', { $fault: 'server', $metadata: { httpStatusCode: 500 } })],
  ])('maps a %s store to 503 store_unavailable with Retry-After', async (_, err) => {
    const outcome = clientThat(() => Promise.reject(err)).send({});
    await expect(outcome).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(outcome).rejects.toMatchObject({ status: 503, headers: { 'retry-after': '1' } });
  });

  it('passes the errors adapters handle through as they are', async () => {
    const err = new ConditionalCheckFailedException({ message: 'no', $metadata: {} });
    await expect(clientThat(() => Promise.reject(err)).send({})).rejects.toBe(err);
  });

  it('cancels a call that does not answer by the deadline', async () => {
    process.env.CP_STORE_CALL_DEADLINE_MS = '50';
    let signal: AbortSignal | undefined;
    const started = performance.now();
    const outcome = clientThat((options) => {
      signal = options?.abortSignal;
      return new Promise(() => {});
    }).send({});
    await expect(outcome).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(signal?.aborted).toBe(true);
  });
});
