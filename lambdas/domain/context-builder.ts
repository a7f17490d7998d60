import { randomUUID } from 'node:crypto';
import { type BudgetResult, budget, type Clamp, effectiveCaps, requiredCosts } from './budget';
import {
  type Caps,
  type ContextRequest,
  type FactSearcher,
  type ProfileReader,
  parseRouteRef,
  routeRefString,
  type SessionReader,
} from './context';
import { type Settled, withDeadline } from './deadline';
import { fingerprintOf } from './fingerprint';
import type { PolicyPins } from './policy-pins';
import { type Recalled, type RecallReadPort, recallFor } from './recall';
import { sessionStamp } from './session';
import type { TokenCounter } from './tokens';

/** Stores that may be left out when slow or failing (the policy may not: it is required). */
export type OptionalStore = 'session' | 'facts' | 'profile' | 'recall';

export interface BuilderDeps {
  sessions: SessionReader;
  /** null until a deployment has a facts store */
  facts: FactSearcher | null;
  profiles: ProfileReader | null;
  /** null until a deployment has a recall index */
  recall: RecallReadPort | null;
  pins: PolicyPins;
  tokens: TokenCounter;
  /** per store read */
  deadlineMs: number;
  now?: () => Date;
  nonce?: () => string;
}

export interface ContextResponse extends BudgetResult {
  policy: { name: string; version: number; ref: string };
  fingerprint: string;
  degraded: OptionalStore[];
  /** ms per store read, plus input tokenization and budgeting+assembly (in process) */
  timings: Record<string, number>;
  /** request caps that asked for more than the policy allows */
  clamped: Clamp[];
  budget: Caps;
  sessionVersion: number | null;
  /** the session state the context was built on (version and summary watermark); give it to
   * PUT /v1/cache with an answer built on this context. null when the session store was degraded */
  sessionStamp: string | null;
}

export interface BuildStats {
  retrievalHits: number;
  recallHits: number;
  policyCached: boolean;
  failures: { store: OptionalStore; timedOut: boolean; error?: unknown }[];
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/**
 * Builds a context: the policy first (a warm Lambda has it cached, so usually no round trip) while the
 * session is read; then facts and profile, whose query the policy shapes, in parallel; each store read
 * has its own deadline and a miss leaves that source out. Only the input is tokenized here.
 */
export async function buildContext(
  deps: BuilderDeps,
  tenantId: string,
  sessionId: string,
  req: ContextRequest,
): Promise<{ response: ContextResponse; stats: BuildStats }> {
  const routeRef = parseRouteRef(req.route);
  const sessionRead = withDeadline(() => deps.sessions.get({ tenantId, sessionId }), deps.deadlineMs);

  const policyStarted = performance.now();
  const { resolved, cached } = await deps.pins.resolve(routeRef);
  const policyMs = performance.now() - policyStarted;
  const { policy } = resolved;
  const { caps, clamped } = effectiveCaps(policy.budgets, req.budget);

  const facts = deps.facts;
  const factsRead =
    facts && policy.retrieval.topK > 0 && caps.facts > 0
      ? withDeadline(
          () =>
            facts.search(tenantId, {
              userId: req.userId,
              sessionId,
              query: req.input,
              ...policy.retrieval,
              now: deps.now?.() ?? new Date(),
            }),
          deps.deadlineMs,
        )
      : null;
  const profiles = deps.profiles;
  const userId = req.userId;
  const profileRead =
    profiles && userId && policy.profile.allow.length > 0 && caps.profile > 0
      ? withDeadline(() => profiles.get(tenantId, userId), deps.deadlineMs)
      : null;

  const recallPort = deps.recall;
  const recallRead =
    recallPort && caps.recall > 0
      ? withDeadline(
          () =>
            recallFor(recallPort, {
              tenantId,
              sessionId,
              userId: req.userId,
              input: req.input,
              // At most what recall could get: its cap, or the total if that is smaller.
              room: Math.min(caps.recall, caps.total),
              // The session read already in flight: its newest turns are usually the unindexed tail.
              recent: async () => {
                const read = await sessionRead;
                if (!read.ok) return null;
                const s = read.value;
                return s
                  ? { turns: s.recentTurns, all: s.tokenCounts.recent === s.tokenCounts.total }
                  : { turns: [], all: true };
              },
            }),
          deps.deadlineMs,
        )
      : null;

  // Tokenizing while the reads are in flight; an input that cannot fit fails before they answer.
  const tokenizeStarted = performance.now();
  const inputTokens = deps.tokens.count(req.input);
  const tokenizeMs = performance.now() - tokenizeStarted;
  requiredCosts(caps, resolved.systemTokens, inputTokens);

  const [session, retrieved, profile, recalled] = await Promise.all([
    sessionRead,
    factsRead,
    profileRead,
    recallRead,
  ]);
  const failures: BuildStats['failures'] = [];
  // A read not made is neither ok nor degraded; a failed or late one is degraded.
  const answered = <T>(store: OptionalStore, read: Settled<T> | null): read is Settled<T> & { ok: true } => {
    if (read && !read.ok) failures.push({ store, timedOut: read.timedOut, error: read.error });
    return read?.ok === true;
  };
  const sessionOk = answered('session', session);
  const state = sessionOk ? session.value : null;
  const factsOk = answered('facts', retrieved);
  const hits = factsOk ? retrieved.value : [];
  const profileOk = answered('profile', profile);
  const profileView = profileOk ? profile.value : null;
  const recallOk = answered('recall', recalled);
  // Never a turn of a previous incarnation of this session (its log outlives an expired item).
  const startSeq = state?.startSeq ?? 0;
  const recall = recallOk
    ? startSeq > 0
      ? withoutBefore(recalled.value, sessionId, startSeq)
      : recalled.value
    : null;
  // A tail longer than one read leaves turns unscored: said, never silent.
  if (recall && !recall.complete) failures.push({ store: 'recall', timedOut: false });
  const degraded = failures.map((f) => f.store);

  const assembleStarted = performance.now();
  const result = budget({
    sessionId,
    caps,
    maxTurns: policy.history.maxTurns,
    system: { text: policy.systemPrompt, tokens: resolved.systemTokens },
    input: { text: req.input, tokens: inputTokens },
    profile: profileView
      ? policy.profile.allow.flatMap((attr) => {
          const line = profileView.lines[attr];
          return line ? [{ attr, text: line.text, tokens: line.tokens }] : [];
        })
      : [],
    facts: hits.map((h) => h.fact),
    summary: state?.summary ?? null,
    turns: state?.recentTurns ?? [],
    split: policy.split,
    recall: recall
      ? { hits: recall.hits, turns: recall.turns, framing: (t) => deps.tokens.count(t) }
      : undefined,
  });
  const sessionVersion = sessionOk ? (state?.version ?? 0) : null;
  const fingerprint = fingerprintOf({
    tenantId,
    sessionId,
    sessionVersion,
    summaryWatermark: sessionOk ? (state?.summary?.watermarkSeq ?? 0) : null,
    facts: retrieved && !factsOk ? null : hits.map((h) => ({ id: h.fact.id, version: h.fact.version })),
    recall: recalled && !recallOk ? null : (recall?.ids ?? []),
    userId: userId ?? null,
    profileVersion: profileOk ? (profileView?.version ?? 0) : null,
    policy: { route: resolved.route, version: resolved.version },
    budget: caps,
    degraded,
    nonce: degraded.length ? (deps.nonce ?? randomUUID)() : undefined,
  });
  const assembleMs = performance.now() - assembleStarted;

  const timings: Record<string, number> = { policy: round(policyMs), session: session.ms };
  if (retrieved) timings.facts = retrieved.ms;
  if (profile) timings.profile = profile.ms;
  if (recalled) timings.recall = recalled.ms;
  timings.tokenize = round(tokenizeMs);
  timings.assemble = round(assembleMs);

  return {
    response: {
      ...result,
      policy: { name: resolved.route, version: resolved.version, ref: routeRefString(routeRef) },
      fingerprint,
      degraded,
      timings,
      clamped,
      budget: caps,
      sessionVersion,
      sessionStamp: sessionOk ? sessionStamp(state) : null,
    },
    stats: {
      retrievalHits: hits.length,
      recallHits: recall?.hits.length ?? 0,
      policyCached: cached,
      failures,
    },
  };
}

/** Recall without the session's turns up to `seq` (a previous incarnation's). */
function withoutBefore(r: Recalled, sessionId: string, seq: number): Recalled {
  const keep = (s: string, n: number) => s !== sessionId || n > seq;
  const hits = r.hits.filter((h) => keep(h.sessionId, h.seq));
  const turns = new Map([...r.turns].filter(([key, t]) => !key.startsWith(`${sessionId}#`) || t.seq > seq));
  return { ...r, hits, turns, ids: hits.map((h) => `${h.sessionId}#${h.seq}`) };
}
