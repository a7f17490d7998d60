import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { envInt, envNames } from '../config';
import type { FactSearcher, ProfileReader, SessionReader } from '../domain/context';
import { contextRequestSchema, MAX_INPUT_BYTES } from '../domain/context';
import { type BuilderDeps, buildContext, type ContextResponse } from '../domain/context-builder';
import { PayloadTooLargeError } from '../domain/errors';
import { idSchema } from '../domain/ids';
import { PolicyPins, type PolicySource } from '../domain/policy-pins';
import type { RecallReadPort } from '../domain/recall';
import { type TokenCounter, tiktokenCounter } from '../domain/tokens';
import { parseWith } from '../domain/validation';
import { httpApi } from '../http/middleware';
import { logger, metrics } from '../http/observability';
import { dynamo } from '../stores/clients';
import { coalescingGets } from '../stores/coalesced-gets';
import { FactStore } from '../stores/fact-store';
import { PolicyStore } from '../stores/policy-store';
import { ProfileStore } from '../stores/profile-store';
import { RecallStore } from '../stores/recall-store';
import { SessionStore } from '../stores/session-store';

const DEFAULT_STORE_DEADLINE_MS = 800;
const DEFAULT_POLICY_LABEL_TTL_MS = 30_000;

/**
 * Composition root: the stores this Lambda reads, replaceable before the first request (tests wrap a
 * real store with a delay to force its deadline). `null` leaves a source out (no such store deployed).
 */
export const deps: {
  sessions?: SessionReader;
  facts?: FactSearcher | null;
  profiles?: ProfileReader | null;
  recall?: RecallReadPort | null;
  policies?: PolicySource;
  pins?: PolicyPins;
  tokens: TokenCounter;
  deadlineMs?: number;
  labelTtlMs?: number;
} = { tokens: tiktokenCounter };

/** The session item, the profile and the recall counters are read at once: one BatchGetItem. One
 * client for the stores, made when the first of them is. */
let coalesced: ReturnType<typeof coalescingGets> | undefined;
const pointReads = () => (coalesced ??= coalescingGets(dynamo()));

function builderDeps(): BuilderDeps {
  const deadlineMs = deps.deadlineMs ?? envInt('storeDeadlineMs', DEFAULT_STORE_DEADLINE_MS);
  // The session item holds summary and recent turns; the event log is read only for recall's tail.
  deps.sessions ??= new SessionStore(undefined, undefined, pointReads());
  if (deps.facts === undefined) deps.facts = process.env[envNames.factsTable] ? new FactStore() : null;
  if (deps.profiles === undefined)
    deps.profiles = process.env[envNames.profilesTable] ? new ProfileStore(undefined, pointReads()) : null;
  if (deps.recall === undefined)
    deps.recall = process.env[envNames.recallTable]
      ? new RecallStore(undefined, undefined, pointReads())
      : null;
  deps.pins ??= new PolicyPins(deps.policies ?? new PolicyStore(), deps.tokens, {
    labelTtlMs: deps.labelTtlMs ?? envInt('policyLabelTtlMs', DEFAULT_POLICY_LABEL_TTL_MS),
    deadlineMs,
  });
  return {
    ...deps,
    sessions: deps.sessions,
    facts: deps.facts,
    profiles: deps.profiles,
    recall: deps.recall,
    pins: deps.pins,
    deadlineMs,
  };
}

function emitMetrics(r: ContextResponse, retrievalHits: number, recallHits: number, buildMs: number) {
  const tokensOf = (source: string) => r.sections.find((s) => s.source === source)?.tokens ?? 0;
  metrics.addMetric('tokens_in', MetricUnit.Count, r.usage.tokensTotal);
  metrics.addMetric('tokens_from_state', MetricUnit.Count, r.usage.tokensFromState);
  metrics.addMetric('tokens_from_history', MetricUnit.Count, tokensOf('history') + tokensOf('summary'));
  metrics.addMetric('tokens_from_docs', MetricUnit.Count, tokensOf('facts') + tokensOf('profile'));
  metrics.addMetric('token_tax_ratio', MetricUnit.NoUnit, r.usage.tokenTaxRatio);
  metrics.addMetric('retrieval_hits', MetricUnit.Count, retrievalHits);
  metrics.addMetric('recall_hits', MetricUnit.Count, recallHits);
  metrics.addMetric('tokens_from_recall', MetricUnit.Count, tokensOf('recall'));
  metrics.addMetric('context_build_ms', MetricUnit.Milliseconds, buildMs);
  if (r.degraded.length) metrics.addMetric('degraded_stores', MetricUnit.Count, r.degraded.length);
  for (const store of ['policy', 'session', 'facts', 'profile', 'recall']) {
    const ms = r.timings[store];
    if (ms === undefined) continue;
    // One dimension per store, so the dashboard can chart each store's latency on its own.
    const single = metrics.singleMetric();
    single.addDimension('store', store);
    single.addMetric('state_load_ms', MetricUnit.Milliseconds, ms);
  }
}

export const handler = httpApi({
  'POST /v1/sessions/{sessionId}/context': async (req) => {
    const sessionId = parseWith(idSchema, req.params.sessionId, 'sessionId');
    const body = parseWith(contextRequestSchema, req.body);
    const inputBytes = Buffer.byteLength(body.input, 'utf8');
    if (inputBytes > MAX_INPUT_BYTES) throw new PayloadTooLargeError(MAX_INPUT_BYTES, inputBytes, 'input');
    const started = performance.now();
    const { response, stats } = await buildContext(builderDeps(), req.tenantId, sessionId, body);
    const buildMs = performance.now() - started;
    for (const f of stats.failures) {
      logger.warn('store degraded: left out of the context', {
        store: f.store,
        timedOut: f.timedOut,
        error: f.error instanceof Error ? f.error.message : f.error,
      });
    }
    emitMetrics(response, stats.retrievalHits, stats.recallHits, buildMs);
    logger.info('context built', {
      sessionId,
      policy: response.policy,
      fingerprint: response.fingerprint,
      tokensTotal: response.usage.tokensTotal,
      degraded: response.degraded,
      policyCached: stats.policyCached,
    });
    return { body: response };
  },
});
