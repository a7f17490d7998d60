import { CreateQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultPolicy } from '../../lambdas/domain/policy';
import type { SessionState } from '../../lambdas/domain/session';
import { deps, handler } from '../../lambdas/handlers/sessions';
import { sqsClient } from '../../lambdas/stores/clients';
import { PolicyStore } from '../../lambdas/stores/policy-store';
import { SummaryJobQueue, SummarySettingsSource, SummaryTrigger } from '../../lambdas/stores/summary-jobs';
import { lambdaContext } from '../../local/server';
import { uniqueId } from '../support/ids';

/** The append path's trigger against the emulator, on a private FIFO queue no poller reads. */
const route = uniqueId('trig').toLowerCase();
let queueUrl: string;

beforeAll(async () => {
  await new PolicyStore().publish(route, { ...defaultPolicy(route), summary: { triggerTokens: 20 } });
  const out = await sqsClient().send(
    new CreateQueueCommand({ QueueName: `${uniqueId('trigger')}.fifo`, Attributes: { FifoQueue: 'true' } }),
  );
  queueUrl = out.QueueUrl!;
});
afterEach(() => {
  deps.summaryTrigger = undefined;
});

const stateOf = (unsummarized: number, version = 3): SessionState =>
  ({
    tenantId: 'acme',
    sessionId: uniqueId('s'),
    version,
    lastSeq: version * 2,
    recentTurns: [],
    summary: null,
    tokenCounts: { total: unsummarized, recent: unsummarized, unsummarized },
  }) as unknown as SessionState;

async function receiveAll() {
  const out = await sqsClient().send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 1,
      MessageSystemAttributeNames: ['MessageGroupId', 'MessageDeduplicationId'],
    }),
  );
  return out.Messages ?? [];
}

function append(sessionId: string, body: unknown): Promise<APIGatewayProxyStructuredResultV2> {
  const routeKey = 'POST /v1/sessions/{sessionId}/turns';
  const event = {
    version: '2.0',
    routeKey,
    rawPath: `/v1/sessions/${sessionId}/turns`,
    headers: {},
    pathParameters: { sessionId },
    body: JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: { authorizer: { lambda: { tenantId: 'acme' } }, requestId: uniqueId('r'), routeKey },
  } as unknown as APIGatewayProxyEventV2;
  return handler(event, lambdaContext('sessions')) as Promise<APIGatewayProxyStructuredResultV2>;
}

describe('the summarization trigger', () => {
  it('queues one job per session version past the threshold, grouped by session, none below it', async () => {
    const trigger = new SummaryTrigger(new SummarySettingsSource(), new SummaryJobQueue(queueUrl));
    const over = stateOf(25);
    expect(await trigger.afterAppend(over, route, 'u-1')).toBe('enqueued');
    // A retried append of the same version is deduplicated by SQS.
    expect(await trigger.afterAppend(over, route, 'u-1')).toBe('enqueued');
    expect(await trigger.afterAppend(stateOf(19), route)).toBe('below_trigger');
    const messages = await receiveAll();
    expect(messages).toHaveLength(1);
    expect(JSON.parse(messages[0]!.Body!)).toEqual({
      tenantId: 'acme',
      sessionId: over.sessionId,
      version: 3,
      lastSeq: 6,
      route,
      userId: 'u-1',
    });
    expect(messages[0]!.Attributes?.MessageGroupId).toBe(`acme#${over.sessionId}`);
    expect(messages[0]!.Attributes?.MessageDeduplicationId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('never fails a committed append: an unknown route or a missing queue is logged, and the turns are stored', async () => {
    const broken = new SummaryTrigger(
      new SummarySettingsSource(),
      new SummaryJobQueue(`${queueUrl.replace(/[^/]+$/, '')}no-such-queue.fifo`),
    );
    expect(await broken.afterAppend(stateOf(25), route)).toBe('failed');
    expect(await broken.afterAppend(stateOf(25), 'no-such-route')).toBe('failed');

    deps.summaryTrigger = broken;
    const res = await append(uniqueId('s'), {
      expectedVersion: 0,
      route,
      turns: [
        { role: 'user', content: 'My name is Priya Raman and I prefer email over phone calls, always.' },
      ],
    });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body!)).toMatchObject({ version: 1 });
  });

  it('refuses a malformed route with 400 before writing anything', async () => {
    const res = await append(uniqueId('s'), {
      expectedVersion: 0,
      route: 'Not A Route!',
      turns: [{ role: 'user', content: 'hello' }],
    });
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body!).error.details.fields[0].path).toBe('route');
  });
});
