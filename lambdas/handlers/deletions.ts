import { MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  type DeletionKind,
  type DeletionTarget,
  deletionAcceptedSchema,
  deletionIdOf,
  deletionPathSchemas,
  statusBodyOf,
} from '../domain/deletion';
import { NotFoundError } from '../domain/errors';
import { parseWith } from '../domain/validation';
import { type ApiReply, httpApi } from '../http/middleware';
import { metrics } from '../http/observability';
import { DeletionQueue, DeletionStore } from '../stores/deletion-store';
import { FactStore } from '../stores/fact-store';
import { ProfileStore } from '../stores/profile-store';
import { SessionStore } from '../stores/session-store';

export { deletionAcceptedSchema, deletionPathSchemas, deletionStatusSchema } from '../domain/deletion';

/** Composition root: the stores this Lambda uses (replaceable in tests). */
export const deps: {
  deletions?: DeletionStore;
  queue?: DeletionQueue;
  sessions?: SessionStore;
  facts?: FactStore;
  profiles?: ProfileStore;
} = {};
const deletions = () => (deps.deletions ??= new DeletionStore());
const queue = () => (deps.queue ??= new DeletionQueue());
const sessions = () => (deps.sessions ??= new SessionStore());
const facts = () => (deps.facts ??= new FactStore());
const profiles = () => (deps.profiles ??= new ProfileStore());

/**
 * Starts (or finds) the deletion: 202 with its id. Asked again, the same deletion answers; an id
 * with nothing to delete and no deletion is a 404. The work is the deletion queue's consumer's.
 */
async function accept(
  tenantId: string,
  kind: DeletionKind,
  targetId: string,
  what: string,
  locate: () => Promise<DeletionTarget | null>,
): Promise<ApiReply> {
  const existing = await deletions().get(tenantId, deletionIdOf(tenantId, kind, targetId));
  const target = existing?.status !== 'done' && existing ? existing.target! : await locate();
  if (!target) {
    if (existing) return { status: 202, body: deletionAcceptedSchema.parse(existing) };
    throw new NotFoundError(what, targetId);
  }
  // Still running: the record read above is the answer (starting it again could only fail its condition).
  const { record, created } =
    existing && existing.status !== 'done'
      ? { record: existing, created: false }
      : await deletions().start(tenantId, kind, targetId, target);
  // Sent again when asked again: a message lost after the record was written is not a stuck deletion.
  if (record.status !== 'done') await queue().enqueue(tenantId, record.id);
  if (created) metrics.addMetric(`deletions_requested_${kind}`, MetricUnit.Count, 1);
  return {
    status: 202,
    body: { id: record.id, kind: record.kind, status: record.status },
    headers: { location: `/v1/deletions/${record.id}` },
  };
}

export const handler = httpApi({
  'DELETE /v1/sessions/{sessionId}': async (req) => {
    const { sessionId } = parseWith(deletionPathSchemas.session, req.params);
    return accept(req.tenantId, 'session', sessionId, 'session', async () => {
      const ref = { tenantId: req.tenantId, sessionId };
      const state = await sessions().get(ref);
      if (state) return { sessionId, ...(state.userId ? { userId: state.userId } : {}) };
      // Its item expired, but its log (kept longer) is still there.
      return (await deletions().hasAny(req.tenantId, 'sessionLog', sessionId)) ? { sessionId } : null;
    });
  },

  'DELETE /v1/users/{userId}': async (req) => {
    const { userId } = parseWith(deletionPathSchemas.user, req.params);
    return accept(req.tenantId, 'user', userId, 'user', async () => {
      const [profile, sessionsListed, factsListed] = await Promise.all([
        profiles().get(req.tenantId, userId),
        deletions().hasAny(req.tenantId, 'userSessions', userId),
        deletions().hasAny(req.tenantId, 'userFacts', userId),
      ]);
      return profile || sessionsListed || factsListed ? { userId } : null;
    });
  },

  'DELETE /v1/facts/{factId}': async (req) => {
    const { factId: id } = parseWith(deletionPathSchemas.fact, req.params);
    // One deletion per fact, whichever of its versions is named: all of them go.
    const lineage = id.replace(/-v\d+$/, '');
    return accept(req.tenantId, 'fact', lineage, 'fact', async () => {
      const at = await facts().locate(req.tenantId, id);
      return at ? { factId: id, scope: at.scope, lineageId: at.lineageId } : null;
    });
  },

  'GET /v1/deletions/{id}': async (req) => {
    const { id } = parseWith(deletionPathSchemas.deletion, req.params);
    const record = await deletions().get(req.tenantId, id);
    if (!record) throw new NotFoundError('deletion', id);
    return { body: statusBodyOf(record) };
  },
});
