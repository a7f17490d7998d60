import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { envNames } from '../config';
import type { FactWriter } from '../domain/facts';
import { indexSession, type RecallIndexPort } from '../domain/recall';
import type { SummarizerEngine } from '../domain/summarizer/engine';
import { ExtractiveEngine } from '../domain/summarizer/extractive';
import {
  runSummaryJob,
  type SessionPort,
  type SummaryJob,
  type SummarySettings,
  summaryJobSchema,
  turnsBetween,
} from '../domain/summarizer/job';
import { type TokenCounter, tiktokenCounter } from '../domain/tokens';
import { parseWith } from '../domain/validation';
import { logger, metrics } from '../http/observability';
import { BedrockEngine } from '../stores/bedrock-engine';
import { FactStore } from '../stores/fact-store';
import { RecallStore } from '../stores/recall-store';
import { checkedFactWriter, Registry } from '../stores/registry';
import { SessionStore } from '../stores/session-store';
import { SummarySettingsSource } from '../stores/summary-jobs';

/** Composition root: stores and engines this Lambda uses (replaceable in tests). */
export const deps: {
  sessions?: SessionPort;
  facts?: FactWriter;
  settings?: { of(route: string): Promise<SummarySettings> };
  engineFor?: (settings: SummarySettings) => SummarizerEngine;
  /** null: no recall index deployed */
  recall?: RecallIndexPort | null;
  tokens: TokenCounter;
} = { tokens: tiktokenCounter };

/** The engine a route's policy picks: extractive unless it names the bedrock engine and a model. */
export function selectEngine(settings: SummarySettings): SummarizerEngine {
  const extractive = new ExtractiveEngine(deps.tokens);
  return settings.engine === 'bedrock' && settings.modelId
    ? new BedrockEngine(settings.modelId, extractive, deps.tokens)
    : extractive;
}

function ports() {
  deps.sessions ??= new SessionStore();
  deps.facts ??= new FactStore();
  deps.settings ??= new SummarySettingsSource();
  deps.engineFor ??= selectEngine;
  const settings = deps.settings;
  return {
    sessions: deps.sessions,
    // No facts for a session or user being deleted (the summary's own commit checks in its transaction).
    facts: checkedFactWriter(deps.facts, Registry.fromEnv()),
    settingsOf: (route: string) => settings.of(route),
    engineFor: deps.engineFor,
    now: () => new Date().toISOString(),
  };
}

/**
 * The session's new turns go into the recall index whatever the summary did: a job is queued at least
 * every history window's worth of turns, so the index trails the log by about that much (a context
 * build scores the rest from the log itself).
 */
async function indexRecord(job: SummaryJob): Promise<void> {
  if (deps.recall === undefined) deps.recall = process.env[envNames.recallTable] ? new RecallStore() : null;
  if (!deps.recall) return;
  const sessions = ports().sessions;
  const ref = { tenantId: job.tenantId, sessionId: job.sessionId };
  const state = await sessions.get(ref);
  if (!state) return;
  const started = performance.now();
  const { indexed } = await indexSession(
    deps.recall,
    (after, limit) => turnsBetween(sessions, ref, after, state.lastSeq, limit),
    { ...ref, ...(state.userId ? { userId: state.userId } : {}) },
  );
  metrics.addMetric('recall_turns_indexed', MetricUnit.Count, indexed);
  metrics.addMetric('recall_index_ms', MetricUnit.Milliseconds, performance.now() - started);
}

/** One job: a plain async function; the batch plumbing (partial failures, FIFO groups) is Powertools'. */
export async function summarizeRecord(record: SQSRecord): Promise<void> {
  const job = parseWith(summaryJobSchema, JSON.parse(record.body), 'job');
  logger.appendKeys({ tenantId: job.tenantId, sessionId: job.sessionId });
  const started = performance.now();
  const outcome = await runSummaryJob(job, ports());
  // Measured before indexing, which reports its own duration (recall_index_ms).
  metrics.addMetric('summarize_duration_ms', MetricUnit.Milliseconds, performance.now() - started);
  await indexRecord(job);
  metrics.addMetric('summarize_jobs', MetricUnit.Count, 1);
  if (outcome.status !== 'summarized') {
    logger.info('summarization job had nothing to do', { outcome: outcome.status, version: job.version });
    metrics.addMetric(`summarize_${outcome.status}`, MetricUnit.Count, 1);
    return;
  }
  const { summary } = outcome;
  metrics.addMetric('facts_written', MetricUnit.Count, outcome.factsWritten);
  metrics.addMetric('facts_deduplicated', MetricUnit.Count, outcome.factsDeduplicated);
  metrics.addMetric('summary_tokens', MetricUnit.Count, summary.tokens);
  metrics.addMetric('summary_cas_attempts', MetricUnit.Count, outcome.attempts);
  if (summary.tokens > 0) {
    metrics.addMetric('compression_ratio', MetricUnit.NoUnit, outcome.transcriptTokens / summary.tokens);
  }
  logger.info('session summarized', {
    watermarkSeq: summary.watermarkSeq,
    facts: summary.facts.length,
    summaryTokens: summary.tokens,
    transcriptTokens: outcome.transcriptTokens,
    engine: summary.engine,
  });
}

/** A failed job fails the rest of its session's group in the batch (order kept), not other sessions. */
async function processBatch(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  // A processor per batch: it holds the batch's state, and the local runtime may run batches concurrently.
  return processPartialResponse(event, summarizeRecord, new SqsFifoPartialProcessorAsync(), {
    context,
    skipGroupOnError: true,
    throwOnFullBatchFailure: false,
  });
}

export const handler = middy<SQSEvent, SQSBatchResponse>(processBatch)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
