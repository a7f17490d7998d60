import {
  indexSession,
  type Posting,
  type RecallIndexPort,
  type RecallReadPort,
  type Scope,
  type ScopeStats,
  sessionScope,
} from '../../lambdas/domain/recall';
import { packFollow, packSnapshot, type StoredPack } from '../../lambdas/domain/recall-pack';
import type { StoredTurn } from '../../lambdas/domain/session';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/**
 * The recall index and event log in memory, with the same semantics as the DynamoDB store. Session
 * scopes are packed as they are indexed; snapshot() reads a current pack only when `usePacks`.
 */
export class MemoryRecall implements RecallReadPort, RecallIndexPort {
  readonly log = new Map<string, StoredTurn[]>();
  private readonly counters = new Map<Scope, ScopeStats>();
  private readonly postings = new Map<string, Map<string, Posting>>();
  private readonly packs = new Map<Scope, StoredPack>();

  constructor(readonly usePacks = false) {}

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
  async pack(
    _t: string,
    sessionId: string,
    b: { from: number; to: number; docs: number },
    byTerm: Map<string, Posting[]>,
    turns: StoredTurn[],
  ) {
    const scope = sessionScope(sessionId);
    const next = packFollow(this.packs.get(scope) ?? null, b, byTerm, turns);
    if (next) this.packs.set(scope, next);
    else this.packs.delete(scope);
  }
  async snapshot(_t: string, scope: Scope, terms: string[], known?: ScopeStats) {
    const stats = known ?? (await this.stats('', scope));
    const packed =
      this.usePacks && !known ? packSnapshot(scope, stats, this.packs.get(scope) ?? null, terms) : null;
    if (packed) return packed;
    return {
      scope,
      stats,
      terms: new Map(
        terms.map((term) => {
          const list = [...(this.postings.get(`${scope}|${term}`)?.values() ?? [])];
          return [term, { postings: list, total: list.length }];
        }),
      ),
    };
  }
  async tail(_t: string, sessionId: string, limit: number, before?: number) {
    const log = (this.log.get(sessionId) ?? []).filter((t) => before === undefined || t.seq < before);
    const turns = log.slice(-limit).reverse();
    return { turns, oldestSeq: turns.at(-1)?.seq ?? 0, more: log.length > limit };
  }
  async turns(_t: string, refs: { sessionId: string; seq: number }[]) {
    const out = new Map<string, StoredTurn>();
    for (const r of refs) {
      const t = this.log.get(r.sessionId)?.[r.seq - 1];
      if (t) out.set(`${r.sessionId}#${r.seq}`, t);
    }
    return out;
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
