import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { envInt } from '../config';
import { parseRouteRef } from '../domain/context';
import { DeletedError, NotFoundError } from '../domain/errors';
import { idSchema } from '../domain/ids';
import { toolSchema } from '../domain/policy';
import { PolicyPins } from '../domain/policy-pins';
import { tiktokenCounter } from '../domain/tokens';
import { validateToolArguments } from '../domain/tool-args';
import { argumentsHash, preferredWaitSeconds, toolCallLimits } from '../domain/tool-call';
import {
  executeToolCall,
  type ToolCallObserver,
  type ToolCallRecords,
  type ToolRunner,
} from '../domain/tool-execution';
import { parseWith } from '../domain/validation';
import { httpApi } from '../http/middleware';
import { logger, metrics } from '../http/observability';
import { invokeBody } from '../http/requests';
import { keys } from '../stores/keys';
import { PolicyStore } from '../stores/policy-store';
import { Registry } from '../stores/registry';
import { SessionStore } from '../stores/session-store';
import { ToolCallStore } from '../stores/tool-call-store';
import { httpRunner, lambdaRunner, runnerFor } from '../stores/tool-runners';

const DEFAULT_SESSION_TTL_SECONDS = 7 * 24 * 3600;
/** A label or the latest version may move: re-resolve it this often. A version number never moves. */
const MOVABLE_POLICY_TTL_MS = 10_000;
/** SSM answers in milliseconds; past this the call is a 503 rather than a hung tool call. */
const POLICY_DEADLINE_MS = 2_000;

/** Composition root: stores and runners this Lambda uses (replaceable in tests). */
export const deps: {
  records?: ToolCallRecords;
  runner?: ToolRunner;
  sessions?: SessionStore;
  policies?: PolicyStore;
  pins?: PolicyPins;
  registry?: Registry | null;
} = {};
const sessions = () => (deps.sessions ??= new SessionStore());
const records = () => (deps.records ??= new ToolCallStore(sessions()));
const runner = () => (deps.runner ??= runnerFor({ http: httpRunner, lambda: lambdaRunner() }));

/** The warm Lambda's policy cache, shared with the context and summarization paths' semantics. */
const pins = () =>
  (deps.pins ??= new PolicyPins(deps.policies ?? new PolicyStore(), tiktokenCounter, {
    labelTtlMs: MOVABLE_POLICY_TTL_MS,
    deadlineMs: POLICY_DEADLINE_MS,
  }));

const observe: ToolCallObserver = (what, durationMs, cause) => {
  if (what === 'invoked') {
    metrics.addMetric('tool_invocations', MetricUnit.Count, 1);
    metrics.addMetric('tool_duration_ms', MetricUnit.Milliseconds, durationMs ?? 0);
  } else if (what === 'replayed') metrics.addMetric('tool_replays', MetricUnit.Count, 1);
  else if (what === 'event_pending') {
    // The outcome is stored and answered; its event lands with the next call for the same key.
    metrics.addMetric('tool_events_pending', MetricUnit.Count, 1);
    logger.warn('tool_invoked event not appended yet', { error: cause as Error });
  } else if (what === 'conflict') metrics.addMetric('tool_conflicts', MetricUnit.Count, 1);
  else metrics.addMetric('tool_takeovers', MetricUnit.Count, 1);
};

export const handler = httpApi({
  'POST /v1/sessions/{sessionId}/tools/{toolName}/invocations': async (req) => {
    const ref = { tenantId: req.tenantId, sessionId: parseWith(idSchema, req.params.sessionId, 'sessionId') };
    const toolName = parseWith(toolSchema.shape.name, req.params.toolName, 'toolName');
    const body = parseWith(invokeBody, req.body ?? {});
    const route = parseRouteRef(body.route);
    if (deps.registry === undefined) deps.registry = Registry.fromEnv();
    const registry = deps.registry;
    // The tombstone is read alongside: a session being deleted takes no tool calls (404).
    const [{ resolved: pinned }, session, deleted] = await Promise.all([
      pins().resolve(route),
      sessions().get(ref),
      registry?.isDeleted(ref.tenantId, 'session', ref.sessionId) ?? false,
    ]);
    const tool = pinned.policy.tools.find((t) => t.name === toolName);
    if (!tool) throw new NotFoundError('tool', toolName);
    validateToolArguments({ route: pinned.route, policyVersion: pinned.version, tool }, body.arguments);
    // Tool calls belong to a conversation: the app creates the session (POST /turns) first.
    if (!session) throw new NotFoundError('session', ref.sessionId);
    if (deleted) throw new DeletedError('session', ref.sessionId);

    const key = keys.toolCall(ref.tenantId, ref.sessionId, body.stepIndex, toolName).pk;
    const ttlSeconds = envInt('sessionTtlSeconds', DEFAULT_SESSION_TTL_SECONDS);
    // The record is listed under its session before it exists, so the session's deletion finds it.
    await registry?.putOwned(ref.tenantId, ref.sessionId, 'I', key, {
      expiresAt: Math.floor(Date.now() / 1000) + ttlSeconds,
    });
    const waitSeconds = preferredWaitSeconds(req.headers.prefer);
    const answer = await executeToolCall(
      { records: records(), runner: runner(), observe },
      {
        ref,
        key,
        tool,
        args: body.arguments,
        waitSeconds,
        claim: {
          argsHash: argumentsHash(body.arguments),
          toolName,
          stepIndex: body.stepIndex,
          policyVersion: pinned.version,
          lockMs: tool.timeoutMs + envInt('toolLockMarginMs', toolCallLimits.defaultLockMarginMs),
          ttlSeconds,
        },
      },
    );
    return {
      body: answer,
      headers: waitSeconds ? { 'preference-applied': `wait=${waitSeconds}` } : undefined,
    };
  },
});
