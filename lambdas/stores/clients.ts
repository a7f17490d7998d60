import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { envInt } from '../config';
import { StoreUnavailableError } from '../domain/errors';

/**
 * One client per service per process, created on first use: warm Lambdas reuse their connections.
 * Endpoints come from AWS_ENDPOINT_URL(_<SERVICE>) when set (LocalStack, moto), else from AWS.
 * The store clients (DynamoDB, SSM, SQS) are guarded: every call has a deadline and its failures are
 * mapped here, once, so no adapter catches SDK errors only to say "unavailable".
 */
let ddb: DynamoDBDocumentClient | undefined;
let sqs: SQSClient | undefined;
let ssm: SSMClient | undefined;
let lambda: LambdaClient | undefined;

export function dynamo(): DynamoDBDocumentClient {
  ddb ??= guarded(
    DynamoDBDocumentClient.from(new DynamoDBClient({}), {
      marshallOptions: { removeUndefinedValues: true },
    }),
    'dynamodb',
  );
  return ddb;
}

/**
 * SQS client settings for every SQS client the project builds: with an endpoint set, send to it, not
 * to the host in a queue URL (LocalStack answers `sqs.<region>.localhost.localstack.cloud` URLs,
 * which do not resolve without public DNS). Against AWS the two are the same host.
 */
export const sqsConfig = { useQueueUrlAsEndpoint: false } as const;

export function sqsClient(): SQSClient {
  sqs ??= guarded(new SQSClient(sqsConfig), 'summary-queue');
  return sqs;
}

export function ssmClient(): SSMClient {
  ssm ??= guarded(new SSMClient({}), 'policy');
  return ssm;
}

/** Tool invocations: no SDK retries, so a failed invoke is classified once by the tool executor. */
export function lambdaClient(): LambdaClient {
  lambda ??= new LambdaClient({ maxAttempts: 1 });
  return lambda;
}

let bedrock: BedrockRuntimeClient | undefined;

/** The summarizer's Bedrock engine (endpoint from AWS_ENDPOINT_URL_BEDROCK_RUNTIME when set). */
export function bedrockClient(): BedrockRuntimeClient {
  bedrock ??= new BedrockRuntimeClient({});
  return bedrock;
}

/** A store call that has not answered by then is cancelled (a frozen store must not hold a Lambda). */
export const DEFAULT_STORE_CALL_DEADLINE_MS = 3000;

type Send = (command: unknown, options?: { abortSignal?: AbortSignal }) => Promise<unknown>;

/**
 * Wraps a client's send: the call (SDK retries included) is aborted at the deadline, and a failure
 * that says the store is down, slow or throttling becomes StoreUnavailableError (503, Retry-After).
 * Every other error passes through as is: adapters still see their conditional-check failures.
 */
export function guarded<C extends object>(client: C, store: string): C {
  const target = client as unknown as { send: Send };
  const send = target.send.bind(target);
  target.send = async (command, options) => {
    const ms = envInt('storeCallDeadlineMs', DEFAULT_STORE_CALL_DEADLINE_MS);
    const deadline = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    // Also races the call: the SDK notices an abort only between its retries' back-off sleeps.
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = Object.assign(new Error(`${store} did not answer in ${ms} ms`), { name: 'TimeoutError' });
        deadline.abort(err);
        reject(err);
      }, ms);
    });
    try {
      return await Promise.race([send(command, { ...options, abortSignal: deadline.signal }), late]);
    } catch (err) {
      throw isUnavailable(err) ? new StoreUnavailableError(store, err) : err;
    } finally {
      clearTimeout(timer);
    }
  };
  return client;
}

const THROTTLED = /Throttl|ProvisionedThroughputExceeded|RequestLimitExceeded|TooManyRequests|TooManyUpdates/;

/** Down (network), late (deadline), failing (5xx) or throttling: worth a retry by the client. */
export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const e = err as Error & { $fault?: string; $metadata?: { httpStatusCode?: number }; code?: unknown };
  return (
    e.$fault === 'server' ||
    (e.$metadata?.httpStatusCode ?? 0) >= 500 ||
    THROTTLED.test(e.name) ||
    e.name === 'AbortError' ||
    e.name === 'TimeoutError' ||
    // Node's socket errors: ECONNREFUSED, ECONNRESET, EPIPE, ETIMEDOUT, ENOTFOUND…
    (typeof e.code === 'string' && /^E(?!RR_)[A-Z_]+$/.test(e.code))
  );
}
