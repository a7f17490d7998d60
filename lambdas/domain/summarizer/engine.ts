import type { Citation, StructuredSummary, SummaryFact } from '../facts';
import type { StoredTurn } from '../session';

/**
 * The summarizer engine port: turns the turns after a summary's watermark, plus the previous summary,
 * into the next structured summary. Two implementations: extractive (default, offline, deterministic)
 * and Bedrock (a model via the Converse API, falling back to extractive on an invalid answer).
 */

/** The part of a route policy's `summary` settings an engine needs. */
export interface SummaryCaps {
  /** the full form (all facts) stays at or under this many tokens */
  maxTokens: number;
  /** the short form stays at or under this many tokens */
  shortMaxTokens: number;
}

export interface SummarizeInput {
  sessionId: string;
  /** the summary so far (covers events up to its watermarkSeq), or null */
  previous: StructuredSummary | null;
  /** the turns after the previous watermark up to `watermarkSeq`, in seq order */
  turns: StoredTurn[];
  /** the last event seq the new summary covers */
  watermarkSeq: number;
  caps: SummaryCaps;
  at: string;
}

export interface EngineResult {
  summary: StructuredSummary;
  /** the facts found in this run's turns (before the cap): the candidates for long-term memory */
  extracted: SummaryFact[];
}

export interface SummarizerEngine {
  readonly name: string;
  summarize(input: SummarizeInput): Promise<EngineResult>;
}

/** What a fact is about; the key starts with it, so it survives merges without another field. */
export const factKinds = ['user', 'decision', 'commitment', 'note'] as const;
export type FactKind = (typeof factKinds)[number];

/** Kinds worth keeping beyond the session: about the user, decisions, commitments. */
export const durableKinds: ReadonlySet<FactKind> = new Set(['user', 'decision', 'commitment']);

/** A fact as an engine extracts it from one sentence or model answer, before merging. */
export interface Candidate {
  key: string;
  text: string;
  citations: Citation[];
  /** a fact carried over from the previous summary: when its newest cited turn was said */
  at?: string;
}

export const kindOf = (key: string): FactKind => {
  const kind = key.slice(0, key.indexOf(':')) as FactKind;
  return factKinds.includes(kind) ? kind : 'note';
};
