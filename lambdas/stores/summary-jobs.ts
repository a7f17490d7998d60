import { createHash } from 'node:crypto';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { env } from '../config';
import { parseRouteRef } from '../domain/context';
import { PolicyPins } from '../domain/policy-pins';
import type { SessionRef, SessionState } from '../domain/session';
import { needsSummary, type SummaryJob, type SummarySettings } from '../domain/summarizer/job';
import { tiktokenCounter } from '../domain/tokens';
import { logger, metrics } from '../http/observability';
import { sqsClient } from './clients';
import { PolicyStore } from './policy-store';

/** A label or "latest" is asked of SSM again after this long; a pinned version never. */
const POLICY_TTL_MS = 60_000;
/** A slow SSM must not hold the append: past this the trigger gives up (the next append retries). */
const POLICY_DEADLINE_MS = 300;
/** SQS limit for MessageGroupId and MessageDeduplicationId. */
const MAX_SQS_ID = 128;

/**
 * The summarization job queue (SQS FIFO): one message group per session, so a session's jobs run one
 * at a time and in order; deduplicated by tenant + session + version, so a retried append does not
 * queue its job twice.
 */
export class SummaryJobQueue {
  constructor(
    private readonly queueUrl = env('summaryQueueUrl'),
    private readonly sqs: SQSClient = sqsClient(),
  ) {}

  async enqueue(job: SummaryJob): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(job),
        MessageGroupId: groupIdOf(job),
        // The tenant is part of it: deduplication is queue-wide, and session ids are only unique per tenant.
        MessageDeduplicationId: sha256(`${job.tenantId}#${job.sessionId}#${job.version}`),
      }),
    );
  }
}

export const groupIdOf = (ref: SessionRef) => {
  const id = `${ref.tenantId}#${ref.sessionId}`;
  return id.length <= MAX_SQS_ID ? id : sha256(id);
};

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The route's summary settings, through the warm Lambda's policy cache. */
export class SummarySettingsSource {
  constructor(
    private readonly pins = new PolicyPins(new PolicyStore(), tiktokenCounter, {
      labelTtlMs: POLICY_TTL_MS,
      deadlineMs: POLICY_DEADLINE_MS,
    }),
  ) {}

  async of(route: string): Promise<SummarySettings> {
    const { resolved } = await this.pins.resolve(parseRouteRef(route));
    return { ...resolved.policy.summary, historyTurns: resolved.policy.history.maxTurns };
  }
}

export type TriggerOutcome = 'enqueued' | 'below_trigger' | 'failed';

/**
 * The turn-append path's trigger, run after the append committed. It never fails the append: the
 * turns are stored whatever happens here; a job that could not be queued is logged and counted, and
 * the next append (still over the threshold) queues it again.
 */
export class SummaryTrigger {
  constructor(
    private readonly settings = new SummarySettingsSource(),
    private readonly queue = new SummaryJobQueue(),
  ) {}

  async afterAppend(state: SessionState, route: string, userId?: string): Promise<TriggerOutcome> {
    try {
      if (!needsSummary(state, await this.settings.of(route))) return 'below_trigger';
      await this.queue.enqueue({
        tenantId: state.tenantId,
        sessionId: state.sessionId,
        version: state.version,
        lastSeq: state.lastSeq,
        route,
        ...(userId ? { userId } : {}),
      });
      metrics.addMetric('summary_jobs_enqueued', MetricUnit.Count, 1);
      return 'enqueued';
    } catch (err) {
      logger.warn('summarization job not queued; the next append retries', {
        sessionId: state.sessionId,
        error: err as Error,
      });
      metrics.addMetric('summary_enqueue_failures', MetricUnit.Count, 1);
      return 'failed';
    }
  }
}
