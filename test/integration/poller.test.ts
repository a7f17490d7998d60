import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { sqsClient } from '../../lambdas/stores/clients';
import { type Poller, startPoller } from '../../local/poller';
import { uniqueId } from '../support/ids';

/** A FIFO queue with a dead-letter queue of its own, so no other test's poller competes for it. */
async function fifoWithDlq(maxReceiveCount: number) {
  const sqs = sqsClient();
  const name = uniqueId('poller');
  const dlq = await sqs.send(
    new CreateQueueCommand({ QueueName: `${name}-dlq.fifo`, Attributes: { FifoQueue: 'true' } }),
  );
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl!, AttributeNames: ['QueueArn'] }),
  );
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${name}.fifo`,
      Attributes: {
        FifoQueue: 'true',
        VisibilityTimeout: '30',
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes!.QueueArn, maxReceiveCount }),
      },
    }),
  );
  return { queueUrl: queue.QueueUrl!, dlqUrl: dlq.QueueUrl! };
}

const send = (queueUrl: string, body: string, group: string) =>
  sqsClient().send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: body,
      MessageGroupId: group,
      MessageDeduplicationId: body,
    }),
  );

async function until(cond: () => boolean | Promise<boolean>, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('local SQS poller', () => {
  const pollers: Poller[] = [];
  afterAll(async () => Promise.all(pollers.map((p) => p.stop())));

  it('hands batches to the handler as SQS events and deletes what succeeded', async () => {
    const { queueUrl } = await fifoWithDlq(3);
    const seen: string[] = [];
    const handler = async (event: SQSEvent) => {
      for (const r of event.Records) seen.push(r.body);
      return { batchItemFailures: [] };
    };
    pollers.push(startPoller({ queueUrl, handler }));
    for (const body of ['a', 'b', 'c']) await send(queueUrl, body, 'g1');
    await until(() => seen.length === 3);
    expect(seen).toEqual(['a', 'b', 'c']);
    const left = await sqsClient().send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0 }),
    );
    expect(left.Messages ?? []).toHaveLength(0);
  });

  it('retries reported failures and moves a poison message to the dead-letter queue', async () => {
    const { queueUrl, dlqUrl } = await fifoWithDlq(2);
    const attempts = new Map<string, number>();
    const handler = async (event: SQSEvent) => ({
      batchItemFailures: event.Records.filter((r) => {
        attempts.set(r.body, (attempts.get(r.body) ?? 0) + 1);
        return r.body === 'poison';
      }).map((r) => ({ itemIdentifier: r.messageId })),
    });
    pollers.push(startPoller({ queueUrl, handler, retryDelaySeconds: 0 }));
    await send(queueUrl, 'poison', 'g2');
    await send(queueUrl, 'fine', 'g3');
    let dead: string[] = [];
    await until(async () => {
      const out = await sqsClient().send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 0 }));
      dead = (out.Messages ?? []).map((m) => m.Body!);
      return dead.length > 0;
    });
    expect(dead).toEqual(['poison']);
    expect(attempts.get('poison')).toBe(2);
    expect(attempts.get('fine')).toBe(1);
  });
});
