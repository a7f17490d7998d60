import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { NotFoundError } from '../domain/errors';
import { idSchema } from '../domain/ids';
import { profilePutSchema } from '../domain/profile';
import { parseWith } from '../domain/validation';
import { type ApiRequest, httpApi } from '../http/middleware';
import { metrics } from '../http/observability';
import { ProfileStore } from '../stores/profile-store';

/** Composition root: the store this Lambda uses (replaceable in tests). */
export const deps: { profiles?: ProfileStore } = {};
const profiles = () => {
  deps.profiles ??= new ProfileStore();
  return deps.profiles;
};

const userIdOf = (req: ApiRequest) => parseWith(idSchema, req.params.userId, 'userId');

export const handler = httpApi({
  'PUT /v1/users/{userId}/profile': async (req) => {
    const userId = userIdOf(req);
    const { expectedVersion, attributes } = parseWith(profilePutSchema, req.body);
    const started = performance.now();
    const profile = await profiles().put(req.tenantId, userId, expectedVersion, attributes);
    metrics.addMetric('state_write_ms', MetricUnit.Milliseconds, performance.now() - started);
    return { status: expectedVersion === 0 ? 201 : 200, body: profile };
  },

  'GET /v1/users/{userId}/profile': async (req) => {
    const userId = userIdOf(req);
    const profile = await profiles().get(req.tenantId, userId);
    if (!profile) throw new NotFoundError('profile', userId);
    return { body: profile };
  },
});
