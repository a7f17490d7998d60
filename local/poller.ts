import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { sqsConfig } from '../lambdas/stores/clients';
import { lambdaContext } from './server';

/**
 * The local event source mapping: long-polls a queue, hands each batch to the handler as an SQS
 * event, deletes what succeeded and leaves reported failures on the queue, as Lambda does with
 * ReportBatchItemFailures. Failures become visible again after `retryDelaySeconds` instead of the
 * queue's visibility timeout, so a poison message reaches the dead-letter queue in seconds locally.
 */
export interface PollerOptions {
  queueUrl: string;
  queueArn?: string;
  handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;
  batchSize?: number;
  waitSeconds?: number;
  retryDelaySeconds?: number;
  onError?: (err: unknown) => void;
}

export interface Poller {
  stop(): Promise<void>;
  /** batches handled so far */
  readonly batches: number;
}

export function startPoller(opts: PollerOptions): Poller {
  const sqs = new SQSClient(sqsConfig);
  let running = true;
  let batches = 0;
  const abort = new AbortController();

  const loop = (async () => {
    while (running) {
      try {
        const out = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: opts.queueUrl,
            MaxNumberOfMessages: opts.batchSize ?? 10,
            WaitTimeSeconds: opts.waitSeconds ?? 1,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: abort.signal },
        );
        const messages = out.Messages ?? [];
        if (messages.length === 0) continue;
        await handleBatch(sqs, opts, messages);
        batches++;
      } catch (err) {
        if (!running) break;
        opts.onError?.(err);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  })();

  return {
    get batches() {
      return batches;
    },
    async stop() {
      running = false;
      abort.abort();
      await loop;
      sqs.destroy();
    },
  };
}

async function handleBatch(sqs: SQSClient, opts: PollerOptions, messages: Message[]) {
  const event: SQSEvent = { Records: messages.map((m) => toRecord(m, opts)) };
  let failed: Set<string>;
  try {
    const response = await opts.handler(event, lambdaContext('summarizer'));
    failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
  } catch (err) {
    opts.onError?.(err);
    failed = new Set(messages.map((m) => m.MessageId!));
  }
  const succeeded = messages.filter((m) => !failed.has(m.MessageId!));
  const retried = messages.filter((m) => failed.has(m.MessageId!));
  if (succeeded.length) {
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: opts.queueUrl,
        Entries: succeeded.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
      }),
    );
  }
  if (retried.length) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: opts.queueUrl,
        Entries: retried.map((m, i) => ({
          Id: String(i),
          ReceiptHandle: m.ReceiptHandle!,
          VisibilityTimeout: opts.retryDelaySeconds ?? 1,
        })),
      }),
    );
  }
}

function toRecord(m: Message, opts: PollerOptions): SQSRecord {
  const attrs = (m.Attributes ?? {}) as Record<string, string>;
  return {
    messageId: m.MessageId!,
    receiptHandle: m.ReceiptHandle!,
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attrs.ApproximateReceiveCount ?? '1',
      SentTimestamp: attrs.SentTimestamp ?? String(Date.now()),
      SenderId: attrs.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attrs.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      MessageGroupId: attrs.MessageGroupId,
      MessageDeduplicationId: attrs.MessageDeduplicationId,
      SequenceNumber: attrs.SequenceNumber,
    },
    messageAttributes: {},
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: opts.queueArn ?? opts.queueUrl,
    awsRegion: process.env.AWS_REGION ?? 'us-east-1',
  };
}
