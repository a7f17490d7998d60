import { budget, effectiveCaps } from '../lambdas/domain/budget';
import type { ContextRequest, FactSearcher } from '../lambdas/domain/context';
import { fingerprintOf } from '../lambdas/domain/fingerprint';
import type { StoredTurn } from '../lambdas/domain/session';
import { tiktokenCounter } from '../lambdas/domain/tokens';
import type { PolicyStore } from '../lambdas/stores/policy-store';
import type { ProfileStore } from '../lambdas/stores/profile-store';
import type { SessionStore } from '../lambdas/stores/session-store';

/**
 * The baseline the benchmark compares with: what a context builder looks like without this design.
 * It reads the stores one after another (policy from SSM on every request, session, the whole event
 * log, facts, profile) and re-tokenizes everything it read, the whole stored history included; the
 * budgeting itself is the same budget() so only I/O and tokenization differ.
 */
export interface NaiveStores {
  policies: PolicyStore;
  sessions: SessionStore;
  facts: FactSearcher;
  profiles: ProfileStore;
}

export async function naiveBuild(
  stores: NaiveStores,
  tenantId: string,
  sessionId: string,
  req: ContextRequest,
): Promise<{ fingerprint: string; tokensTotal: number; inProcessMs: number }> {
  const count = (s: string) => tiktokenCounter.count(s);
  const ref = { tenantId, sessionId };
  const { version, policy } = await stores.policies.get(req.route, { latest: true });
  const state = await stores.sessions.get(ref);
  const turns: StoredTurn[] = [];
  for (let after = 0; ; ) {
    const page = await stores.sessions.listEvents(ref, after, 100);
    for (const e of page.events) if (e.type === 'turn_appended') turns.push(e.data.turn);
    if (page.next === null) break;
    after = page.next;
  }
  const hits = await stores.facts.search(tenantId, {
    userId: req.userId,
    query: req.input,
    ...policy.retrieval,
    now: new Date(),
  });
  const profile = req.userId ? await stores.profiles.get(tenantId, req.userId) : null;

  const started = performance.now();
  const { caps } = effectiveCaps(policy.budgets, req.budget);
  const summary = state?.summary
    ? {
        ...state.summary,
        facts: state.summary.facts.map((f) => ({ ...f, tokens: count(f.text) })),
        short: { text: state.summary.short.text, tokens: count(state.summary.short.text) },
      }
    : null;
  const result = budget({
    sessionId,
    caps,
    maxTurns: policy.history.maxTurns,
    system: { text: policy.systemPrompt, tokens: count(policy.systemPrompt) },
    input: { text: req.input, tokens: count(req.input) },
    profile: profile
      ? policy.profile.allow.flatMap((attr) => {
          const line = profile.lines[attr];
          return line ? [{ attr, text: line.text, tokens: count(line.text) }] : [];
        })
      : [],
    facts: hits.map((h) => ({ ...h.fact, tokens: count(h.fact.text) })),
    summary,
    turns: turns.map((t) => ({ ...t, tokens: count(t.content) })),
  });
  const fingerprint = fingerprintOf({
    tenantId,
    sessionId,
    sessionVersion: state?.version ?? 0,
    summaryWatermark: state?.summary?.watermarkSeq ?? 0,
    facts: hits.map((h) => ({ id: h.fact.id, version: h.fact.version })),
    recall: [],
    userId: req.userId ?? null,
    profileVersion: profile?.version ?? null,
    policy: { route: req.route, version },
    budget: caps,
    degraded: [],
  });
  return { fingerprint, tokensTotal: result.usage.tokensTotal, inProcessMs: performance.now() - started };
}
