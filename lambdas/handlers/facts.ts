import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import { factInputSchema } from '../domain/fact-upsert';
import { idSchema } from '../domain/ids';
import { defaultPolicy, policySchema } from '../domain/policy';
import { parseWith } from '../domain/validation';
import { httpApi } from '../http/middleware';
import { metrics } from '../http/observability';
import { FactStore } from '../stores/fact-store';

/** Scoring knobs of GET /v1/facts: the policy defaults (the Context Builder uses the route's policy). */
const retrievalDefaults = policySchema.parse(defaultPolicy('default')).retrieval;

export const searchQuery = z.object({
  userId: idSchema.optional(),
  query: z.string().max(4096).default(''),
  limit: z.coerce.number().int().min(1).max(100).default(10),
});

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
    const { fact, deduplicated } = await facts().upsert(req.tenantId, input);
    metrics.addMetric('state_write_ms', MetricUnit.Milliseconds, performance.now() - started);
    return { status: fact.version === 1 && !deduplicated ? 201 : 200, body: { fact, deduplicated } };
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
});
