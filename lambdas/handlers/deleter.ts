import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { envInt } from '../config';
import { DEFAULT_GRACE_SECONDS, deletionJobSchema, itemsRemoved } from '../domain/deletion';
import { parseWith } from '../domain/validation';
import { logger, metrics } from '../http/observability';
import { DeletionQueue, DeletionStore, type FaultHook } from '../stores/deletion-store';

/** Composition root (replaceable in tests; `fault` crashes a run at a named point). */
export const deps: { deletions?: DeletionStore; queue?: DeletionQueue; fault?: FaultHook } = {};

/** Seconds before a deletion's sweep (0 allowed: tests and local runs need not wait). */
export const graceSeconds = (): number => envInt('deletionGraceSeconds', DEFAULT_GRACE_SECONDS, 0);

/** When a run stops: a minute before the function's timeout, or halfway for a short one. */
const deadlineOf = (remainingMs: number) => Date.now() + remainingMs - Math.min(60_000, remainingMs / 2);

/** One deletion job: run it on from its record; its sweep's wait is a delayed message, not a sleep. */
export async function deleteRecord(message: SQSRecord, context?: Context): Promise<void> {
  const job = parseWith(deletionJobSchema, JSON.parse(message.body), 'job');
  logger.appendKeys({ tenantId: job.tenantId, deletionId: job.deletionId });
  deps.deletions ??= new DeletionStore();
  deps.queue ??= new DeletionQueue();
  const started = performance.now();
  const outcome = await deps.deletions.run(job.tenantId, job.deletionId, {
    graceSeconds: graceSeconds(),
    fault: deps.fault,
    // A large deletion stops well before the function's timeout and queues its own continuation.
    ...(context ? { deadline: deadlineOf(context.getRemainingTimeInMillis()) } : {}),
  });
  metrics.addMetric('deletion_run_ms', MetricUnit.Milliseconds, performance.now() - started);
  if (outcome.status === 'later') {
    await deps.queue.enqueue(job.tenantId, job.deletionId, outcome.delaySeconds);
    return;
  }
  if (!outcome.now) return;
  const { record } = outcome;
  metrics.addMetric('deletions_completed', MetricUnit.Count, 1);
  for (const [store, n] of Object.entries(record.counts)) {
    // One dimension per store: how many items each deletion removed where.
    const single = metrics.singleMetric();
    single.addDimension('store', store);
    single.addMetric('items_removed', MetricUnit.Count, n ?? 0);
  }
  logger.info('deletion completed', {
    kind: record.kind,
    itemsRemoved: itemsRemoved(record.counts),
    counts: record.counts,
    auditSeq: record.auditSeq,
  });
}

async function processBatch(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  return processPartialResponse(event, deleteRecord, new BatchProcessor(EventType.SQS), {
    context,
    throwOnFullBatchFailure: false,
  });
}

export const handler = middy<SQSEvent, SQSBatchResponse>(processBatch)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
