import { analyze } from './analyzer';
import type { Fact } from './facts';

/**
 * Deterministic lexical retrieval of facts: text to index terms, and candidates to a ranked list.
 * Pure: the store feeds it postings read from DynamoDB; same candidates and query give the same
 * ids in the same order (score descending, ties broken by id ascending).
 *
 *   rel(f)   = Σ_t idf(t)·sat(tf) / Σ_t idf(t)                 ∈ [0, 1], t over the query terms
 *   sat(tf)  = tf·(k1+1) / (tf + k1·(1 − b + b·len/avgLen)) / (k1+1)   (BM25 saturation, normalized)
 *   idf(t)   = ln(1 + (N − df_t + 0.5) / (df_t + 0.5))           N, df over the candidate set
 *   score(f) = pinned ? pinnedBoost + rel : rel · 0.5^(ageDays / halfLifeDays)
 */

export interface FactQuery {
  userId?: string;
  /** the session the context is for: its own session-scoped facts are candidates too */
  sessionId?: string;
  query: string;
  topK: number;
  halfLifeDays: number;
  pinnedBoost: number;
  minScore: number;
  now: Date;
}

export interface ScoredFact {
  fact: Fact;
  score: number;
}

export const retrievalLimits = {
  /** distinct terms indexed per fact (highest tf first): bounds postings written per fact */
  maxTermsPerFact: 32,
  /** distinct query terms looked up (one postings Query each, per scope) */
  maxQueryTerms: 8,
} as const;

const K1 = 1.2;
const B = 0.75;
const DAY_MS = 24 * 3600 * 1000;

/** Text to index terms, in order: the shared analyzer (library stop words and Porter2 stemming). */
export const termsOf = (text: string): string[] => analyze(text);

export interface IndexedText {
  /** term -> frequency, at most maxTerms entries */
  tf: Record<string, number>;
  /** all terms of the text (the BM25 document length) */
  length: number;
}

/** What a fact is indexed under: its most frequent terms (ties: first occurrence), capped. */
export function indexTerms(text: string, maxTerms: number = retrievalLimits.maxTermsPerFact): IndexedText {
  const terms = termsOf(text);
  const ranked = rankTerms(terms).slice(0, maxTerms);
  const counts = countTerms(terms);
  const tf: Record<string, number> = {};
  for (const term of ranked) tf[term] = counts.get(term)!;
  return { tf, length: terms.length };
}

/** The distinct terms a query is looked up by: most frequent first, then longest, then first seen. */
export function queryTerms(query: string, maxTerms: number = retrievalLimits.maxQueryTerms): string[] {
  const terms = termsOf(query);
  const counts = countTerms(terms);
  const first = new Map<string, number>();
  terms.forEach((t, i) => {
    if (!first.has(t)) first.set(t, i);
  });
  return [...first.keys()]
    .sort((a, b) => counts.get(b)! - counts.get(a)! || b.length - a.length || first.get(a)! - first.get(b)!)
    .slice(0, maxTerms)
    .sort();
}

function countTerms(terms: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of terms) counts.set(t, (counts.get(t) ?? 0) + 1);
  return counts;
}

function rankTerms(terms: string[]): string[] {
  const counts = countTerms(terms);
  const order = [...counts.keys()]; // Map keeps first-occurrence order
  return order.sort((a, b) => counts.get(b)! - counts.get(a)! || order.indexOf(a) - order.indexOf(b));
}

/** One fact as the postings describe it, before its item is read. */
export interface Candidate {
  id: string;
  /** epoch ms of the fact's last write (recency) */
  updatedAtMs: number;
  pinned: boolean;
  /** BM25 document length */
  length: number;
  /** frequencies of the query terms the fact matched */
  tf: Record<string, number>;
}

export interface RankOptions {
  topK: number;
  halfLifeDays: number;
  pinnedBoost: number;
  minScore: number;
  now: Date;
}

export interface Ranked {
  id: string;
  score: number;
}

/** Exponential recency decay: 1 for a fact written now, 0.5 after halfLifeDays. Future dates count as now. */
export function recencyDecay(updatedAtMs: number, now: Date, halfLifeDays: number): number {
  const ageDays = Math.max(0, now.getTime() - updatedAtMs) / DAY_MS;
  return 0.5 ** (ageDays / halfLifeDays);
}

/** Ranks candidates for the query terms; keeps score > 0 and >= minScore; top K by score, then id. */
export function rankCandidates(terms: string[], candidates: Candidate[], opts: RankOptions): Ranked[] {
  if (opts.topK <= 0 || candidates.length === 0) return [];
  const sortedTerms = [...new Set(terms)].sort();
  const n = candidates.length;
  const idf = new Map<string, number>();
  for (const term of sortedTerms) {
    const df = candidates.filter((c) => (c.tf[term] ?? 0) > 0).length;
    idf.set(term, Math.log(1 + (n - df + 0.5) / (df + 0.5)));
  }
  const idfSum = sortedTerms.reduce((s, t) => s + idf.get(t)!, 0);
  const avgLength = candidates.reduce((s, c) => s + Math.max(1, c.length), 0) / n;
  const ranked: Ranked[] = [];
  for (const c of candidates) {
    let rel = 0;
    for (const term of sortedTerms) {
      const tf = c.tf[term] ?? 0;
      if (tf <= 0) continue;
      const norm = K1 * (1 - B + (B * Math.max(1, c.length)) / avgLength);
      rel += (idf.get(term)! * ((tf * (K1 + 1)) / (tf + norm))) / (K1 + 1);
    }
    if (idfSum > 0) rel /= idfSum;
    const score = c.pinned
      ? opts.pinnedBoost + rel
      : rel * recencyDecay(c.updatedAtMs, opts.now, opts.halfLifeDays);
    if (score > 0 && score >= opts.minScore) ranked.push({ id: c.id, score });
  }
  return ranked.sort(compareRanked).slice(0, opts.topK);
}

/** Score descending, then id ascending: the total order that makes retrieval deterministic. */
export function compareRanked(a: Ranked, b: Ranked): number {
  if (a.score !== b.score) return b.score - a.score;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Merges the candidates seen in several postings lists (same fact via several terms or scopes). */
export function mergeCandidates(seen: Candidate[]): Candidate[] {
  const byId = new Map<string, Candidate>();
  for (const c of seen) {
    const prev = byId.get(c.id);
    if (!prev) {
      byId.set(c.id, { ...c, tf: { ...c.tf } });
      continue;
    }
    prev.pinned ||= c.pinned;
    prev.updatedAtMs = Math.max(prev.updatedAtMs, c.updatedAtMs);
    prev.length = Math.max(prev.length, c.length);
    for (const [term, tf] of Object.entries(c.tf)) prev.tf[term] = Math.max(prev.tf[term] ?? 0, tf);
  }
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
