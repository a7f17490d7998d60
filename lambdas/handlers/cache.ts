import { cacheGetSchema, cachePutSchema } from '../domain/cache';
import { parseWith } from '../domain/validation';
import { httpApi } from '../http/middleware';
import { CacheStore } from '../stores/cache-store';

/** Composition root: the store this Lambda uses (replaceable in tests). */
export const deps: { cache?: CacheStore } = {};
const cache = () => {
  deps.cache ??= new CacheStore();
  return deps.cache;
};

export const handler = httpApi({
  'PUT /v1/cache': async (req) => {
    const input = parseWith(cachePutSchema, req.body);
    const entry = await cache().put(req.tenantId, input);
    return { body: { stored: true, question: entry.question, expiresAt: entry.expiresAt } };
  },

  // A miss is an ordinary answer (200, hit: false), not an error: clients look up before every call.
  'GET /v1/cache': async (req) => {
    const { question, fingerprint } = parseWith(cacheGetSchema, req.query);
    const entry = await cache().get(req.tenantId, question, fingerprint);
    return { body: entry ? { hit: true, answer: entry.answer, createdAt: entry.createdAt } : { hit: false } };
  },
});
