import {
  indexSession,
  type Posting,
  type RecallIndexPort,
  type RecallRead,
  type RecallReadPort,
  type RecallReadResult,
  type Scope,
  type ScopeStats,
  type TermPostings,
} from '../../lambdas/domain/recall';
import type { StoredTurn } from '../../lambdas/domain/session';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** The recall index and event log in memory, with the same semantics as the DynamoDB store. */
export class MemoryRecall implements RecallReadPort, RecallIndexPort {
  readonly log = new Map<string, StoredTurn[]>();
  private readonly counters = new Map<Scope, ScopeStats>();
  private readonly postings = new Map<string, Map<string, Posting>>();

  append(sessionId: string, contents: string[], at = '2026-03-01T10:00:00.000Z', tokens = bytes) {
    const turns = this.log.get(sessionId) ?? [];
    for (const content of contents) {
      turns.push({ role: 'user', content, seq: turns.length + 1, tokens: tokens(content), at });
    }
    this.log.set(sessionId, turns);
  }

  /** Appends turns as given (their seq is set here). */
  appendTurns(sessionId: string, turns: Omit<StoredTurn, 'seq'>[]) {
    const log = this.log.get(sessionId) ?? [];
    for (const t of turns) log.push({ ...t, seq: log.length + 1 });
    this.log.set(sessionId, log);
  }

  async stats(_t: string, scope: Scope): Promise<ScopeStats> {
    const s = this.counters.get(scope) ?? { docs: 0, length: 0, watermarks: {} };
    return { ...s, watermarks: { ...s.watermarks } };
  }
  async writePostings(_t: string, scope: Scope, _from: number, byTerm: Map<string, Posting[]>) {
    for (const [term, list] of byTerm) {
      const key = `${scope}|${term}`;
      const m = this.postings.get(key) ?? new Map<string, Posting>();
      for (const p of list) m.set(`${p.sessionId}#${p.seq}`, p);
      this.postings.set(key, m);
    }
  }
  async advance(
    _t: string,
    scope: Scope,
    sessionId: string,
    b: { from: number; to: number; docs: number; length: number },
  ) {
    const s = await this.stats('', scope);
    if ((s.watermarks[sessionId] ?? 0) !== b.from) return false;
    s.watermarks[sessionId] = b.to;
    this.counters.set(scope, {
      docs: s.docs + b.docs,
      length: s.length + b.length,
      watermarks: s.watermarks,
    });
    return true;
  }
  async read(_t: string, req: RecallRead): Promise<RecallReadResult> {
    const out: RecallReadResult = { stats: new Map(), terms: new Map(), turns: new Map() };
    for (const { scope, terms, stats } of req.scopes) {
      if (stats) out.stats.set(scope, await this.stats('', scope));
      const found = new Map<string, TermPostings>();
      for (const term of terms) {
        const list = [...(this.postings.get(`${scope}|${term}`)?.values() ?? [])];
        found.set(term, { postings: list, total: list.length });
      }
      out.terms.set(scope, found);
    }
    for (const r of req.turns) {
      const t = this.log.get(r.sessionId)?.[r.seq - 1];
      if (t) out.turns.set(`${r.sessionId}#${r.seq}`, t);
    }
    return out;
  }
  async tail(_t: string, sessionId: string, limit: number, before?: number) {
    const log = (this.log.get(sessionId) ?? []).filter((t) => before === undefined || t.seq < before);
    const turns = log.slice(-limit).reverse();
    return { turns, oldestSeq: turns.at(-1)?.seq ?? 0, more: log.length > limit };
  }
  index(sessionId: string, userId?: string, upTo = Number.POSITIVE_INFINITY) {
    return indexSession(
      this,
      async (after, limit) => {
        const turns = (this.log.get(sessionId) ?? [])
          .filter((t) => t.seq > after && t.seq <= upTo)
          .slice(0, limit);
        return { turns, lastSeq: turns.at(-1)?.seq ?? after };
      },
      { tenantId: 't', sessionId, ...(userId ? { userId } : {}) },
    );
  }
}
