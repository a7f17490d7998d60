import { z } from 'zod';
import type { FactWriter, StructuredSummary } from '../facts';
import { idSchema, tenantIdSchema } from '../ids';
import { type Policy, routeSchema } from '../policy';
import type { SessionEvent, SessionRef, SessionState, StoredTurn } from '../session';
import { applyEvent, summarizedUpTo } from '../session';
import { durableKinds, kindOf, type SummarizerEngine } from './engine';

/**
 * One summarization job, start to end, against ports only (no AWS here): read the turns since the
 * summary's watermark, summarize, upsert durable facts, and write the summary by compare-and-swap.
 * Idempotent: a job whose events the summary already covers does nothing.
 */

/** The SQS message body. lastSeq is the log position the triggering append reached. */
export const summaryJobSchema = z.strictObject({
  tenantId: tenantIdSchema,
  sessionId: idSchema,
  version: z.number().int().min(1),
  lastSeq: z.number().int().min(1),
  route: routeSchema,
  userId: idSchema.optional(),
});
export type SummaryJob = z.infer<typeof summaryJobSchema>;

/** The policy's summary settings, plus its history window (`history.maxTurns`) when known. */
export type SummarySettings = Policy['summary'] & { historyTurns?: number };

/**
 * The trigger: enough of the conversation is not yet in the summary, by tokens, or because
 * unsummarized turns are about to leave the context's history window (they would then be in neither).
 */
export function needsSummary(state: SessionState, settings: SummarySettings): boolean {
  if (state.tokenCounts.unsummarized <= 0) return false;
  if (state.tokenCounts.unsummarized >= settings.triggerTokens) return true;
  if (settings.historyTurns === undefined) return false;
  const watermark = state.summary?.watermarkSeq ?? 0;
  return state.recentTurns.filter((t) => t.seq > watermark).length > settings.historyTurns;
}

/** The session operations the job needs (SessionStore has them). */
export interface SessionPort {
  get(ref: SessionRef): Promise<SessionState | null>;
  commit(
    ref: SessionRef,
    mutate: (prev: SessionState | null) => { state: SessionState; events: SessionEvent[] },
    opts: { expectedVersion?: number },
  ): Promise<SessionState>;
  listEvents(
    ref: SessionRef,
    after: number,
    limit: number,
  ): Promise<{ events: SessionEvent[]; next: number | null }>;
}

export interface SummaryPorts {
  sessions: SessionPort;
  facts: FactWriter;
  settingsOf(route: string): Promise<SummarySettings>;
  engineFor(settings: SummarySettings): SummarizerEngine;
  now(): string;
}

export type JobOutcome =
  | { status: 'covered' | 'below_trigger' | 'missing' }
  | {
      status: 'summarized';
      summary: StructuredSummary;
      /** every turn token the summary now stands for */
      transcriptTokens: number;
      factsWritten: number;
      factsDeduplicated: number;
      /** CAS attempts it took (1 = no conflict) */
      attempts: number;
    };

const EVENTS_PAGE = 200;
/** Fresh starts when another summary landed first (rare: FIFO runs one job per session at a time). */
const MAX_RUNS = 3;

/** Thrown inside the mutation to leave commit() without writing. */
class Abandon extends Error {
  constructor(readonly why: 'covered' | 'stale' | 'missing') {
    super(why);
  }
}

export async function runSummaryJob(job: SummaryJob, ports: SummaryPorts): Promise<JobOutcome> {
  const ref: SessionRef = { tenantId: job.tenantId, sessionId: job.sessionId };
  for (let run = 1; ; run++) {
    const state = await ports.sessions.get(ref);
    if (!state) return { status: 'missing' };
    // Never from before this incarnation: a re-created session does not get its old conversation back.
    const watermark = summarizedUpTo(state);
    if (watermark >= job.lastSeq || state.tokenCounts.unsummarized === 0) return { status: 'covered' };
    const settings = await ports.settingsOf(job.route);
    // A job queued before an earlier job summarized these turns: wait for the next trigger.
    if (!needsSummary(state, settings)) return { status: 'below_trigger' };

    const { turns } = await turnsBetween(ports.sessions, ref, watermark, state.lastSeq);
    const { summary, extracted } = await ports.engineFor(settings).summarize({
      sessionId: ref.sessionId,
      previous: state.summary,
      turns,
      watermarkSeq: state.lastSeq,
      caps: { maxTokens: settings.maxTokens, shortMaxTokens: settings.shortMaxTokens },
      at: ports.now(),
    });

    // Facts first: if the session write fails, the retry upserts them again (deduplicated by key);
    // the other order could mark the turns summarized and lose their facts.
    let factsWritten = 0;
    let factsDeduplicated = 0;
    for (const fact of extracted.filter((f) => durableKinds.has(kindOf(f.key)))) {
      // A session without a user keeps its facts to itself: "my name is …" must not reach others.
      const out = await ports.facts.upsert(job.tenantId, {
        ...(job.userId ? { userId: job.userId } : { sessionId: job.sessionId }),
        key: fact.key,
        text: fact.text,
        citations: fact.citations.map((c) => ({ sessionId: job.sessionId, ...c })),
      });
      if (out.deduplicated) factsDeduplicated++;
      else factsWritten++;
    }

    const coveredTokens = turns.reduce((n, t) => n + t.tokens, 0);
    const result = await writeSummary(ports.sessions, ref, state, summary, coveredTokens);
    if (result === 'stale' && run < MAX_RUNS) continue;
    if (result === 'stale') throw new Error(`summary of ${ref.sessionId} kept going stale`);
    if (result === 'covered' || result === 'missing') return { status: result };
    return {
      status: 'summarized',
      summary,
      transcriptTokens: state.tokenCounts.total,
      factsWritten,
      factsDeduplicated,
      attempts: result.attempts,
    };
  }
}

/**
 * The turns after `after` up to and including `until`, paging through the log, at most `maxTurns` of
 * them; `lastSeq` is the last event read (the summary's and the recall index's next watermark).
 */
export async function turnsBetween(
  sessions: Pick<SessionPort, 'listEvents'>,
  ref: SessionRef,
  after: number,
  until: number,
  maxTurns = Number.POSITIVE_INFINITY,
): Promise<{ turns: StoredTurn[]; lastSeq: number }> {
  const turns: StoredTurn[] = [];
  let lastSeq = after;
  for (;;) {
    const page = await sessions.listEvents(ref, lastSeq, EVENTS_PAGE);
    for (const e of page.events) {
      if (e.seq > until || turns.length >= maxTurns) return { turns, lastSeq };
      if (e.type === 'turn_appended') turns.push(e.data.turn);
      lastSeq = e.seq;
    }
    if (page.next === null || page.events.length === 0) return { turns, lastSeq };
  }
}

/**
 * Compare-and-swap of the summary onto the session: commit() re-reads and reapplies on every lost race
 * (the write is conditioned on the version and log position it read). Turns appended meanwhile come
 * after the watermark and stay unsummarized: the event subtracts only the tokens this summary covers.
 */
async function writeSummary(
  sessions: SessionPort,
  ref: SessionRef,
  read: SessionState,
  summary: StructuredSummary,
  coveredTokens: number,
): Promise<{ attempts: number } | 'covered' | 'stale' | 'missing'> {
  const readWatermark = read.summary?.watermarkSeq ?? 0;
  let attempts = 0;
  try {
    await sessions.commit(
      ref,
      (prev) => {
        attempts++;
        if (!prev) throw new Abandon('missing');
        const watermark = prev.summary?.watermarkSeq ?? 0;
        if (watermark >= summary.watermarkSeq) throw new Abandon('covered');
        if (watermark !== readWatermark) throw new Abandon('stale');
        const event: SessionEvent = {
          seq: prev.lastSeq + 1,
          type: 'summary_updated',
          at: summary.updatedAt,
          // Derived state: the version (the app's CAS token) and the session's TTL stay as they are.
          data: {
            version: prev.version,
            expiresAt: prev.expiresAt,
            summary,
            unsummarized: Math.max(0, prev.tokenCounts.unsummarized - coveredTokens),
          },
        };
        return { state: applyEvent(prev, ref, event), events: [event] };
      },
      {},
    );
    return { attempts };
  } catch (err) {
    if (err instanceof Abandon) return err.why;
    throw err;
  }
}
