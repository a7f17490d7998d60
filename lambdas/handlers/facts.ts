import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { NotFoundError } from '../domain/errors';
import { factHistoryQuerySchema, factInputSchema } from '../domain/fact-upsert';
import { idSchema } from '../domain/ids';
import { defaultPolicy, policySchema } from '../domain/policy';
import { parseWith } from '../domain/validation';
import { type ApiRequest, httpApi } from '../http/middleware';
import { metrics } from '../http/observability';
import { searchQuery } from '../http/requests';
import { FactStore } from '../stores/fact-store';
import { checkedFactWriter, Registry } from '../stores/registry';

/** Scoring knobs of GET /v1/facts: the policy defaults (the Context Builder uses the route's policy). */
const retrievalDefaults = policySchema.parse(defaultPolicy('default')).retrieval;

const factIdOf = (req: ApiRequest) => parseWith(idSchema, req.params.factId, 'factId');

/** Composition root: the store this Lambda uses (replaceable in tests). */
export const deps: { facts?: FactStore } = {};
const facts = () => {
  deps.facts ??= new FactStore();
  return deps.facts;
};

export const handler = httpApi({
  'POST /v1/facts': async (req) => {
    const input = parseWith(factInputSchema, req.body);
    const started = performance.now();
    // Refused (404) for a user or session being deleted, or citing one (issue 11's deletion).
    const writer = checkedFactWriter(facts(), Registry.fromEnv());
    const { fact, deduplicated } = await writer.upsert(req.tenantId, input);
    metrics.addMetric('state_write_ms', MetricUnit.Milliseconds, performance.now() - started);
    // 201 for a new value (the key's first, or one superseding another text); 200 when the text was
    // the current one's (a new version only if it brought citations or another pin).
    return { status: deduplicated ? 200 : 201, body: { fact, deduplicated } };
  },

  'GET /v1/facts': async (req) => {
    const { userId, query, limit } = parseWith(searchQuery, req.query);
    const started = performance.now();
    const found = await facts().search(req.tenantId, {
      userId,
      query,
      topK: limit,
      halfLifeDays: retrievalDefaults.halfLifeDays,
      pinnedBoost: retrievalDefaults.pinnedBoost,
      minScore: retrievalDefaults.minScore,
      now: new Date(),
    });
    metrics.addMetric('state_load_ms_facts', MetricUnit.Milliseconds, performance.now() - started);
    metrics.addMetric('retrieval_hits', MetricUnit.Count, found.length);
    return { body: { facts: found.map(({ fact, score }) => ({ ...fact, score })) } };
  },

  'GET /v1/facts/{factId}/history': async (req) => {
    const factId = factIdOf(req);
    const page = parseWith(factHistoryQuerySchema, req.query);
    const started = performance.now();
    const history = await facts().history(req.tenantId, factId, page);
    metrics.addMetric('state_load_ms_facts', MetricUnit.Milliseconds, performance.now() - started);
    if (!history) throw new NotFoundError('fact', factId);
    return { body: history };
  },
});
