/**
 * Structured facts: the unit of long-term (domain) memory and of a session's structured summary.
 * Shared vocabulary of the Context Builder (reads them), the facts API (writes them) and the
 * summarizer (produces them). Prose never stands in for a fact: every fact carries its citations.
 */

/** Where a fact came from: an event of a session's log (seq) and the app's own message id (ref). */
export interface Citation {
  sessionId?: string;
  seq?: number;
  ref?: string;
}

/**
 * A fact as the facts store keeps it (per tenant, optionally per user): one immutable version of a
 * lineage (one key in one scope). A new value for the key is a new version with its own id; the version
 * it replaces stays as history (validUntil, supersededBy: the only fields ever set on it afterwards)
 * and is never served again.
 */
export interface Fact {
  /** this version's id: `<lineage id>-v<version>` */
  id: string;
  /** stable key: a newer fact with the same key supersedes the old one, never sits next to it */
  key?: string;
  userId?: string;
  /** a fact the summarizer drew from a session without a user: it stays in that session's scope */
  sessionId?: string;
  text: string;
  citations: Citation[];
  pinned: boolean;
  /** tokens of `text`, counted once when written */
  tokens: number;
  /** position in the lineage: 1 for the first value of the key, +1 per superseding value */
  version: number;
  /** when this version was written: it holds from then */
  createdAt: string;
  /** the same as createdAt: a version never changes (a new citation or pin makes a new version) */
  updatedAt: string;
  /** the version this one superseded */
  supersedes?: string;
  /** set once superseded: the id of the version that replaced this one, and when */
  supersededBy?: string;
  validUntil?: string;
}

/** Only a version nothing has superseded may be served (in a context, in a search). */
export const isCurrent = (fact: Pick<Fact, 'supersededBy'>) => fact.supersededBy === undefined;

/** What a writer gives; the store assigns id, version, tokens and times. */
export interface FactInput {
  userId?: string;
  /** set by the summarizer only (the API's facts are the tenant's or a user's) */
  sessionId?: string;
  key?: string;
  text: string;
  citations?: Citation[];
  pinned?: boolean;
}

/** The part of the facts store the summarizer needs: upsert by key, deduplicated, superseding. */
export interface FactWriter {
  upsert(tenantId: string, fact: FactInput): Promise<{ fact: Fact; deduplicated: boolean }>;
}

/** One page of a fact's chain, newest version first; `next` is the `before` of the next page. */
export interface FactHistoryPage {
  facts: Fact[];
  next?: number;
}

/** One fact of a session's structured summary. */
export interface SummaryFact {
  key: string;
  text: string;
  citations: Citation[];
  /** 0..1, 1 = most recent */
  recency: number;
  tokens: number;
  /** ISO 8601: when the newest cited turn was said (absent in summaries written before it existed) */
  at?: string;
}

/** A session's rolling structured summary, stored in the session item (bounded by the policy's cap). */
export interface StructuredSummary {
  facts: SummaryFact[];
  /** the coarser form used when the full summary does not fit the budget */
  short: { text: string; tokens: number };
  /** tokens of the full form (all facts) */
  tokens: number;
  /** the last event seq this summary covers */
  watermarkSeq: number;
  engine: string;
  updatedAt: string;
}
