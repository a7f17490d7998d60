import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { envInt } from '../config';
import {
  APPEND_RECEIPT_TTL_SECONDS,
  type AppendAnswer,
  type AppendReceipt,
  bodyHashOf,
  idempotencyKeySchema,
  replayOf,
} from '../domain/append-receipt';
import { parseRouteRef } from '../domain/context';
import { NotFoundError } from '../domain/errors';
import { idSchema } from '../domain/ids';
import { appendTurns, type SessionRef, type SessionState, type TurnInput } from '../domain/session';
import { type TokenCounter, tiktokenCounter } from '../domain/tokens';
import { parseWith } from '../domain/validation';
import { type ApiRequest, httpApi } from '../http/middleware';
import { metrics } from '../http/observability';
import { appendBody, eventsQuery } from '../http/requests';
import { AppendReceipts } from '../stores/append-receipts';
import { SessionStore } from '../stores/session-store';
import { SummaryTrigger } from '../stores/summary-jobs';

const DEFAULT_SESSION_TTL_SECONDS = 7 * 24 * 3600;

/** Composition root: the store and token counter this Lambda uses (replaceable in tests). */
export const deps: {
  sessions?: SessionStore;
  receipts?: AppendReceipts;
  tokens: TokenCounter;
  summaryTrigger?: SummaryTrigger;
} = {
  tokens: tiktokenCounter,
};
const receipts = () => {
  deps.receipts ??= new AppendReceipts();
  return deps.receipts;
};
const sessions = () => {
  deps.sessions ??= new SessionStore();
  return deps.sessions;
};
const summaryTrigger = () => {
  deps.summaryTrigger ??= new SummaryTrigger();
  return deps.summaryTrigger;
};

const refOf = (req: ApiRequest): SessionRef => ({
  tenantId: req.tenantId,
  sessionId: parseWith(idSchema, req.params.sessionId, 'sessionId'),
});

export const handler = httpApi({
  'POST /v1/sessions/{sessionId}/turns': async (req) => {
    const ref = refOf(req);
    const body = parseWith(appendBody, req.body);
    parseRouteRef(body.route); // a bad route is a 400 before anything is written
    const rawKey = req.headers['idempotency-key'];
    const idem =
      rawKey === undefined
        ? undefined
        : { key: parseWith(idempotencyKeySchema, rawKey, 'Idempotency-Key'), bodyHash: bodyHashOf(body) };
    const replay = (receipt: AppendReceipt, i: NonNullable<typeof idem>) => ({
      body: replayOf(receipt, i.bodyHash, i.key),
      headers: { 'idempotent-replayed': 'true' },
    });
    const stored = idem && (await receipts().get(ref, idem.key));
    if (idem && stored) return replay(stored, idem);
    // Counted once, at write time (the read path never re-tokenizes stored turns), and only after the
    // version check passed: a stale append costs no tokenizing.
    let counted: (TurnInput & { tokens: number })[] | undefined;
    const count = () => {
      counted ??= body.turns.map((t) => ({ ...t, tokens: deps.tokens.count(t.content) }));
      return counted;
    };
    const answerOf = (version: number, lastSeq: number): AppendAnswer => ({
      version,
      tokens: count().reduce((n, t) => n + t.tokens, 0),
      lastSeq,
    });
    const started = performance.now();
    let state: SessionState;
    try {
      state = await sessions().commit(
        ref,
        (prev, logEnd) =>
          appendTurns(prev, ref, {
            afterSeq: logEnd,
            turns: count(),
            at: new Date().toISOString(),
            ...(body.userId ? { userId: body.userId } : {}),
            ttlSeconds: envInt('sessionTtlSeconds', DEFAULT_SESSION_TTL_SECONDS),
          }),
        {
          expectedVersion: body.expectedVersion,
          // The receipt lands with the append or not at all, so a retry never finds one without the other.
          ...(idem
            ? {
                alsoWrite: (s) =>
                  receipts().putItems(ref, idem.key, {
                    bodyHash: idem.bodyHash,
                    answer: answerOf(s.version, s.lastSeq),
                    expiresAt: Math.floor(Date.now() / 1000) + APPEND_RECEIPT_TTL_SECONDS,
                  }),
              }
            : {}),
        },
      );
    } catch (err) {
      // A concurrent request with the same key may have landed first (our version check or receipt
      // condition failed): its answer is ours.
      const receipt =
        idem &&
        (await receipts()
          .get(ref, idem.key)
          .catch(() => null));
      if (!idem || !receipt) throw err;
      return replay(receipt, idem);
    }
    metrics.addMetric('state_write_ms', MetricUnit.Milliseconds, performance.now() - started);
    const turns = count();
    metrics.addMetric('turns_appended', MetricUnit.Count, turns.length);
    // After the commit, never failing it: a cached policy read and, past the threshold, one SQS send.
    await summaryTrigger().afterAppend(state, body.route, state.userId);
    return { body: answerOf(state.version, state.lastSeq) };
  },

  'GET /v1/sessions/{sessionId}': async (req) => {
    const ref = refOf(req);
    const state = await sessions().get(ref);
    if (!state) throw new NotFoundError('session', ref.sessionId);
    return {
      body: {
        sessionId: state.sessionId,
        version: state.version,
        summary: state.summary,
        recentTurns: state.recentTurns,
        tokenCounts: state.tokenCounts,
        lastSeq: state.lastSeq,
        createdAt: state.createdAt,
        updatedAt: state.updatedAt,
        expiresAt: state.expiresAt,
      },
    };
  },

  'GET /v1/sessions/{sessionId}/events': async (req) => {
    const ref = refOf(req);
    const { after, limit } = parseWith(eventsQuery, req.query);
    const page = await sessions().listEvents(ref, after, limit);
    // An empty log means no session for this tenant: same answer as a session that never existed.
    if (page.events.length === 0 && after === 0) throw new NotFoundError('session', ref.sessionId);
    return { body: page };
  },
});
