import { analyze, termFrequencies } from './analyzer';
import type { StoredTurn } from './session';

/**
 * Episodic recall: every turn of a conversation is retrievable by the context builder. Pure: the
 * store feeds it an index snapshot (postings of the query terms and the scope's counters) plus the
 * not-yet-indexed tail of the session's log, and gets back hits ranked best first, deterministically
 * (score descending, ties by session id then seq).
 *
 * A scope is one session (`S:<sessionId>`, every turn of it) or one user (`U:<userId>`, every turn
 * of the sessions appended with that userId). Its counters are exact: documents and their total
 * length are added when a batch of turns is indexed (conditioned on the session's watermark, so once
 * per batch), a term's document frequency is the number of its postings.
 *
 *   bm25(d)    = Σ_t w(t) · idf(t) · tf·(k1+1) / (tf + k1·(1 − b + b·len/avgLen))
 *   idf(t)     = ln(1 + (N − df + 0.5) / (df + 0.5))
 *   episode(e) = Σ_t w(t) · idf(t) over the terms the episode contains (a stretch of the conversation
 *                about the topic lifts all its turns, the reply that answers a question among them)
 *   speaker(d) = Σ_t w(t) · idf(t) over the query's terms that name the turn's speaker ("Ana: …")
 *   score(d)   = bm25(d) + EPISODE_WEIGHT · episode(e(d)) + PRIOR_WEIGHT · specifics(d)
 *                + SPEAKER_WEIGHT · speaker(d)
 *
 * w(t) is 1 for the query's terms. A second round adds, at EXPANSION_WEIGHT, the names that the best
 * hits state (the bridge of a two-hop question), and ranks again.
 */

export const recallLimits = {
  /** distinct query terms looked up (one postings Query each, per scope) */
  maxQueryTerms: 12,
  /** posting blocks (one per term and indexed batch) read per (scope, term); a term with more is
   * counted exactly, but the postings of its further blocks are not read */
  blocksPerTerm: 200,
  /** the log's newest events read with every build (the unindexed tail is usually shorter)... */
  tailFirstRead: 32,
  /** ...and at most this many when it is not; a longer tail degrades recall, visibly */
  tailEvents: 300,
  /** hits whose turns (and strong hits' neighbours) are fetched for the budgeter, at most */
  maxHits: 200,
  /** a recalled turn costs at least about this many tokens (its line's framing and a few words): how
   * many hits a recall room can use, and what is added to each estimate */
  minTurnTokens: 12,
  /** the second round takes the names stated by this many best hits... */
  expandFrom: 3,
  /** ...and looks up at most this many of them */
  maxExpansionTerms: 2,
  /** turns an episode holds at most: without `at` times, a conversation is cut into stretches of this */
  episodeTurns: 32,
} as const;

const K1 = 1.2;
const B = 0.75;
export const EPISODE_WEIGHT = 0.1;
export const PRIOR_WEIGHT = 0.6;
export const EXPANSION_WEIGHT = 1;
/** What a person said about themselves is likelier evidence for a question about them than another
 * speaker's mention of their name ("What is Ana scared of?": "Ana: spiders terrify me"). */
export const SPEAKER_WEIGHT = 0.5;
/** Estimating a turn's cost from its length in terms (stop words are not counted in it). */
const TOKENS_PER_TERM = 2;
/** Turns are read for this many times the room: estimates are rough, and some hits are in history
 * (bench:recall: the same recall at 1.3× as at 2×, with a third fewer turns read; 1.5× for headroom). */
const FETCH_MARGIN = 1.5;
/** The margin for hits whose tokens the index knows (postings carry them): neighbours, history overlap
 * and date lines to cover. bench:recall: the same recall at 1.15× as at 1.3×, and turns read per build
 * at 2,000 tokens 85 -> 73. */
const KNOWN_MARGIN = 1.15;
/** A recalled line's framing (`#<seq> ` and its line break), with a share of the date lines. */
const LINE_TOKENS = 5;
/** A hit brings its neighbours when it scores at least this share of the best hit's score: a weak
 * hit (matching little more than a name every turn has) would crowd out other hits with them. */
export const NEIGHBOUR_SCORE_RATIO = 0.5;
/** Whether the hit at this rank brings the turns before and after it (the fetch and the budgeter agree). */
export const bringsNeighbours = (hits: RecallHit[], rank: number) =>
  hits[rank]!.score >= NEIGHBOUR_SCORE_RATIO * (hits[0]?.score ?? 0);
const DAY_MS = 24 * 3600 * 1000;

export type Scope = `S:${string}` | `U:${string}`;
export const sessionScope = (sessionId: string): Scope => `S:${sessionId}`;
export const userScope = (userId: string): Scope => `U:${userId}`;

/** One indexed occurrence of a term in a turn. */
export interface Posting {
  sessionId: string;
  seq: number;
  tf: number;
  /** the turn's length in terms */
  len: number;
  /** days since the epoch of the turn's `at`: with seq, what its episode is */
  day: number;
  /** names and numbers the turn states (its prior: see specificsOf) */
  q: number;
  /** the terms of the names it states, space-separated: where a second retrieval round may go */
  e: string;
  /** 1 when the term is (part of) the turn's speaker prefix */
  sp?: number;
  /** the turn's tokens: what fetching it costs the room (absent in postings written before) */
  tok?: number;
}

export interface ScopeStats {
  docs: number;
  length: number;
  /** per session: the last seq indexed into this scope (postings beyond it are not yet counted) */
  watermarks: Record<string, number>;
}

export interface ScopeSnapshot {
  scope: Scope;
  stats: ScopeStats;
  /** per query term: the postings of its first blocksPerTerm blocks, and how many it has in all */
  terms: Map<string, { postings: Posting[]; total: number }>;
  /** present when the scope's whole index is at hand (its pack): further terms cost no read */
  lookup?: (terms: string[]) => ScopeSnapshot['terms'];
  /** with a pack: a turn of the scope's session up to the watermark, without a read */
  turn?: (seq: number) => StoredTurn | undefined;
}

export interface RecallHit {
  sessionId: string;
  seq: number;
  score: number;
  /** the name terms the turn states (see specificsOf) */
  names?: string;
  /** the turn's length in terms: what its cost is estimated from when `tok` is unknown */
  len?: number;
  /** the turn's tokens (see Posting) */
  tok?: number;
}

export const episodeOf = (p: { sessionId: string; seq: number; day: number }) =>
  `${p.sessionId}:${p.day}:${Math.floor((p.seq - 1) / recallLimits.episodeTurns)}`;

export const dayOf = (at: string) => Math.floor(Date.parse(at) / DAY_MS);

/** The query's distinct terms, first occurrence first, at most maxQueryTerms. */
export function queryTerms(input: string): string[] {
  return [...new Set(analyze(input))].slice(0, recallLimits.maxQueryTerms);
}

/** A turn as indexed: its terms' frequencies and length. Tool output is data, not conversation. */
export function indexable(
  turn: StoredTurn,
): { tf: Map<string, number>; len: number; q: number; e: string; speaker: Set<string> } | null {
  if (turn.role === 'tool') return null;
  const terms = analyze(turn.content);
  if (!terms.length) return null;
  const { count, names } = specificsOf(turn.content);
  const speaker = new Set(analyze(turn.content.match(SPEAKER)?.[0] ?? ''));
  return { tf: termFrequencies(terms), len: terms.length, q: count, e: names.join(' '), speaker };
}

/** A leading "Name:" (multi-party chats put the speaker in the content). */
const SPEAKER = /^\p{Lu}[\p{L}'.-]*(?: \p{Lu}[\p{L}'.-]*){0,2}:\s+/u;

/**
 * How many specifics a turn states: numbers, and capitalized words that do not start a sentence
 * (names of people, places, things), up to MAX_SPECIFICS. The speaker prefix does not count. A
 * query-independent prior: among turns that match a query equally (often only by a speaker's name),
 * the one that states something specific is the likelier evidence, not "lol same".
 */
export function specificsOf(content: string): { count: number; names: string[] } {
  let count = 0;
  const names = new Set<string>();
  for (const sentence of content.replace(SPEAKER, '').split(/(?<=[.!?])\s+/)) {
    const words = sentence.match(/[\p{L}\p{N}][\p{L}\p{N}'-]*/gu) ?? [];
    words.forEach((w, i) => {
      if (/^\p{N}/u.test(w)) count++;
      else if (i > 0 && /^\p{Lu}/u.test(w) && w !== 'I') {
        count++;
        for (const term of analyze(w)) if (names.size < MAX_NAMES) names.add(term);
      }
    });
  }
  return { count: Math.min(count, MAX_SPECIFICS), names: [...names] };
}
const MAX_SPECIFICS = 3;
const MAX_NAMES = 3;

/** The postings of a batch of turns, by term: what the indexer writes. */
export function postingsOf(sessionId: string, turns: StoredTurn[]) {
  const byTerm = new Map<string, Posting[]>();
  let docs = 0;
  let length = 0;
  for (const turn of turns) {
    const doc = indexable(turn);
    if (!doc) continue;
    docs++;
    length += doc.len;
    for (const [term, tf] of doc.tf) {
      const list = byTerm.get(term) ?? [];
      list.push({
        sessionId,
        seq: turn.seq,
        tf,
        len: doc.len,
        day: dayOf(turn.at),
        q: doc.q,
        e: doc.e,
        ...(doc.speaker.has(term) ? { sp: 1 } : {}),
        tok: turn.tokens,
      });
      byTerm.set(term, list);
    }
  }
  return { byTerm, docs, length };
}

/**
 * A batch's postings of one term, in one string: `seq,tf,len,day,q,names,sp,tok|…` (names
 * space-separated; sp 1 when the term is the turn's speaker, else empty). Older postings end after
 * the names, or after a speaker flag of 1: they decode without tok.
 * One item per (term, batch) instead of one per (term, turn): a common term's list is a few items to
 * read and unmarshal, not hundreds.
 */
export const encodePostings = (postings: Posting[]): string =>
  postings
    .map((p) => `${p.seq},${p.tf},${p.len},${p.day},${p.q},${p.e},${p.sp ? 1 : ''},${p.tok ?? ''}`)
    .join('|');

export const decodePostings = (sessionId: string, block: string): Posting[] =>
  block.split('|').map((entry) => postingOf(sessionId, entry.split(',')));

/** A posting from its fields in encodePostings' order (a field missing or empty: older postings). */
export const postingOf = (
  sessionId: string,
  [seq, tf, len, day, q, e, sp, tok]: (string | undefined)[],
): Posting => ({
  sessionId,
  seq: Number(seq),
  tf: Number(tf),
  len: Number(len),
  day: Number(day),
  q: Number(q),
  e: e ?? '',
  ...(sp === '1' ? { sp: 1 } : {}),
  ...(tok ? { tok: Number(tok) } : {}),
});

interface Doc {
  sessionId: string;
  seq: number;
  len: number;
  day: number;
  q: number;
  e: string;
  tf: Map<string, number>;
  /** the terms of the turn's speaker (only the query's weigh: idf is 0 for others) */
  speaker: Set<string>;
  tok?: number;
}

/**
 * Scores one scope. `tail` (unindexed turns of `tailSession`) is counted into the scope's statistics
 * as if indexed; postings beyond a session's watermark are ignored (the tail has them, or they belong
 * to a batch whose counters are not in yet). `skipSession` leaves a session's turns out (scored in
 * another scope).
 */
function scoreScope(
  weights: Map<string, number>,
  snap: ScopeSnapshot,
  tail: StoredTurn[],
  tailSession: string | null,
  skipSession: string | null,
): RecallHit[] {
  const docs = new Map<string, Doc>();
  const df = new Map<string, number>();
  let n = snap.stats.docs;
  let length = snap.stats.length;
  const terms = [...weights.keys()];
  for (const term of terms) {
    const entry = snap.terms.get(term);
    if (!entry) continue;
    let counted = entry.total;
    for (const p of entry.postings) {
      if (p.seq > (snap.stats.watermarks[p.sessionId] ?? 0)) {
        counted--;
        continue;
      }
      if (p.sessionId === skipSession) continue;
      const key = `${p.sessionId}#${p.seq}`;
      let doc = docs.get(key);
      if (!doc) {
        const { sessionId, seq, len, day, q, e, tok } = p;
        doc = { sessionId, seq, len, day, q, e, tok, tf: new Map(), speaker: new Set() };
        docs.set(key, doc);
      }
      doc.tf.set(term, p.tf);
      if (p.sp) doc.speaker.add(term);
    }
    df.set(term, Math.max(0, counted));
  }
  if (tailSession !== null) {
    const watermark = snap.stats.watermarks[tailSession] ?? 0;
    for (const turn of tail) {
      if (turn.seq <= watermark) continue;
      const doc = indexable(turn);
      if (!doc) continue;
      n++;
      length += doc.len;
      const tf = new Map<string, number>();
      for (const term of terms) {
        const f = doc.tf.get(term);
        if (!f) continue;
        tf.set(term, f);
        df.set(term, (df.get(term) ?? 0) + 1);
      }
      if (tf.size) {
        docs.set(`${tailSession}#${turn.seq}`, {
          sessionId: tailSession,
          seq: turn.seq,
          len: doc.len,
          day: dayOf(turn.at),
          q: doc.q,
          e: doc.e,
          tf,
          speaker: doc.speaker,
          tok: turn.tokens,
        });
      }
    }
  }
  if (n === 0 || docs.size === 0) return [];
  const avgLen = length / n;
  // A term's idf, times its weight in the query (1, or less for a term the second round added).
  const idf = (term: string) => {
    const d = Math.min(df.get(term) ?? 0, n);
    return (weights.get(term) ?? 0) * Math.log(1 + (n - d + 0.5) / (d + 0.5));
  };

  // Which query terms each episode holds, then every turn's own BM25 plus its episode's coverage.
  const episodes = new Map<string, Set<string>>();
  for (const doc of docs.values()) {
    const e = episodeOf(doc);
    const set = episodes.get(e) ?? new Set<string>();
    for (const term of doc.tf.keys()) set.add(term);
    episodes.set(e, set);
  }
  const hits: RecallHit[] = [];
  for (const doc of docs.values()) {
    let bm25 = 0;
    for (const [term, tf] of doc.tf) {
      bm25 += (idf(term) * tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * doc.len) / avgLen));
    }
    let coverage = 0;
    for (const term of episodes.get(episodeOf(doc)) ?? []) coverage += idf(term);
    let speaker = 0;
    for (const term of doc.speaker) speaker += idf(term);
    hits.push({
      sessionId: doc.sessionId,
      seq: doc.seq,
      score: bm25 + EPISODE_WEIGHT * coverage + PRIOR_WEIGHT * doc.q + SPEAKER_WEIGHT * speaker,
      names: doc.e,
      len: doc.len,
      ...(doc.tok === undefined ? {} : { tok: doc.tok }),
    });
  }
  return hits;
}

export const compareHits = (a: RecallHit, b: RecallHit) =>
  b.score - a.score || (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0) || a.seq - b.seq;

/**
 * Ranks the turns of a session (and, with a user snapshot, that user's other sessions) for a query.
 * The session's own turns are scored against the session scope, with its unindexed tail counted in;
 * the user scope contributes only the other sessions.
 */
export function rankRecall(input: {
  /** query terms and their weights */
  weights: Map<string, number>;
  sessionId: string;
  session: ScopeSnapshot | null;
  user: ScopeSnapshot | null;
  /** newest turns of the session's log, any order: the part beyond the index watermark is scored here */
  tail: StoredTurn[];
}): RecallHit[] {
  const { weights, sessionId } = input;
  if (weights.size === 0) return [];
  const hits: RecallHit[] = [];
  if (input.session) hits.push(...scoreScope(weights, input.session, input.tail, sessionId, null));
  if (input.user) hits.push(...scoreScope(weights, input.user, [], null, sessionId));
  return hits.sort(compareHits);
}

/** The newest events of a session's log, as the tail read saw them. */
export interface Tail {
  turns: StoredTurn[];
  /** seq of the oldest event read (0 when none) */
  oldestSeq: number;
  /** the log has older events than the read reached */
  more: boolean;
}

/** Port: what a context build reads of the recall index and the event log. */
export interface RecallReadPort {
  /** the scope's counters (not read again when `known`: a second round's) and the terms' postings */
  snapshot(tenantId: string, scope: Scope, terms: string[], known?: ScopeStats): Promise<ScopeSnapshot>;
  /** the newest `limit` events (before `before`, when given), newest first */
  tail(tenantId: string, sessionId: string, limit: number, before?: number): Promise<Tail>;
  turns(tenantId: string, refs: { sessionId: string; seq: number }[]): Promise<Map<string, StoredTurn>>;
}

export interface Recalled {
  hits: RecallHit[];
  /** the hits' turns and their neighbours, by `${sessionId}#${seq}` */
  turns: Map<string, StoredTurn>;
  /** false when the unindexed tail was longer than one read: recall then misses part of it */
  complete: boolean;
  /** (sessionId, seq) of every hit, best first: what the fingerprint covers */
  ids: string[];
}

/**
 * Recall for one build, in up to three rounds of reads: (1) per scope (the session's, and the user's
 * when the request names one) 1 GetItem + 1 Query per query term (≤ maxQueryTerms); (2) when the best
 * hits name someone new, 1 Query per expansion term and scope (≤ maxExpansionTerms), while the first
 * round's turns are fetched; (3) the turns the second round added. No tail Query when the session
 * item's newest turns reach back to the index watermark (the usual case), else 1 (a second when the
 * indexer lags more than tailFirstRead events). Turns fetched: BatchGets of at most maxHits hits with
 * their neighbours, only as many as `room` tokens can hold.
 */
export async function recallFor(
  port: RecallReadPort,
  req: {
    tenantId: string;
    sessionId: string;
    userId?: string;
    input: string;
    room: number;
    /** the session item's newest turns (oldest first), and whether they are all its turns; null when
     * the item could not be read */
    recent?: () => Promise<{ turns: StoredTurn[]; all: boolean } | null>;
  },
): Promise<Recalled> {
  const terms = queryTerms(req.input);
  if (terms.length === 0 || req.room <= 0) return { hits: [], turns: new Map(), complete: true, ids: [] };
  // The session item, if it is back by the time the index is: recall never waits on a slow session
  // read (the log is read instead, and the answer is the same).
  let recent: { turns: StoredTurn[]; all: boolean } | null = null;
  void req.recent?.().then((r) => {
    recent = r;
  });
  const [session, user] = await Promise.all([
    port.snapshot(req.tenantId, sessionScope(req.sessionId), terms),
    req.userId ? port.snapshot(req.tenantId, userScope(req.userId), terms) : null,
  ]);
  const watermark = session.stats.watermarks[req.sessionId] ?? 0;
  // The session item's newest turns usually reach back to the watermark (the indexer trails by about
  // a history window): then they are the tail, and the log is not read at all.
  let tail: Tail;
  const item = recent as { turns: StoredTurn[]; all: boolean } | null;
  if (item && (item.all || (item.turns[0]?.seq ?? Number.POSITIVE_INFINITY) <= watermark + 1)) {
    tail = { turns: item.turns, oldestSeq: 0, more: false };
  } else {
    tail = await port.tail(req.tenantId, req.sessionId, recallLimits.tailFirstRead);
    if (tail.more && tail.oldestSeq > watermark + 1) {
      // The indexer lags: read the rest of the tail.
      const rest = await port.tail(
        req.tenantId,
        req.sessionId,
        recallLimits.tailEvents - recallLimits.tailFirstRead,
        tail.oldestSeq,
      );
      tail = {
        turns: [...tail.turns, ...rest.turns],
        oldestSeq: rest.oldestSeq || tail.oldestSeq,
        more: rest.more,
      };
    }
  }
  const complete = !tail.more || tail.oldestSeq <= watermark + 1;
  const maxHits = Math.min(recallLimits.maxHits, Math.ceil(req.room / recallLimits.minTurnTokens));
  const weights = new Map(terms.map((t) => [t, 1]));
  let hits = rankRecall({ weights, sessionId: req.sessionId, session, user, tail: tail.turns });

  // Second round: the names the best hits state, at a lower weight. "Where does the friend who gave
  // Ana a camera live?" first finds "my friend Mirela gave me a camera", then "Mirela moved to Porto".
  // The first round's turns are fetched while the second round's postings are read: the second
  // round mostly reorders the same hits, so what is left to fetch after it is small.
  const inTail = new Set(tail.turns.map((t) => t.seq));
  const have = (ref: { sessionId: string; seq: number }) =>
    ref.sessionId === req.sessionId && inTail.has(ref.seq);
  const fetched = new Map<string, StoredTurn>();
  const fetch = async (refs: { sessionId: string; seq: number }[]) => {
    const todo = refs.filter((r) => {
      const key = `${r.sessionId}#${r.seq}`;
      if (have(r) || fetched.has(key)) return false;
      // The session's pack holds its indexed turns: no read for them.
      const packed = r.sessionId === req.sessionId ? session.turn?.(r.seq) : undefined;
      if (packed) fetched.set(key, packed);
      return !packed;
    });
    if (todo.length) for (const [k, t] of await port.turns(req.tenantId, todo)) fetched.set(k, t);
  };
  const expansion = expansionTerms(hits, weights);
  if (expansion.length) {
    // From a pack, the second round reads nothing: rank again first, then fetch once.
    const atHand = session.lookup && (!user || user.lookup);
    const more = (snap: ScopeSnapshot, scope: Scope) =>
      snap.lookup
        ? { ...snap, terms: snap.lookup(expansion) }
        : port.snapshot(req.tenantId, scope, expansion, snap.stats);
    const [moreSession, moreUser] = await Promise.all([
      more(session, sessionScope(req.sessionId)),
      user && req.userId ? more(user, userScope(req.userId)) : null,
      atHand ? null : fetch(toFetch(hits, maxHits, req.room).wanted),
    ]);
    for (const t of expansion) weights.set(t, EXPANSION_WEIGHT);
    hits = rankRecall({
      weights,
      sessionId: req.sessionId,
      session: merge(session, moreSession),
      user: user && moreUser ? merge(user, moreUser) : user,
      tail: tail.turns,
    });
  }
  const { wanted, kept } = toFetch(hits, maxHits, req.room);
  await fetch(wanted);
  hits = hits.slice(0, kept);
  // Exactly the tail and the turns the final hits asked for, whatever the first round fetched.
  const turns = new Map<string, StoredTurn>();
  for (const t of tail.turns) turns.set(`${req.sessionId}#${t.seq}`, t);
  for (const w of wanted) {
    const key = `${w.sessionId}#${w.seq}`;
    const t = fetched.get(key);
    if (t) turns.set(key, t);
  }
  return { hits, turns, complete, ids: hits.map((h) => `${h.sessionId}#${h.seq}`) };
}

/**
 * Which turns the budgeter may use: hits in rank order (strong ones with their neighbours) until their
 * estimated cost passes the room with a margin; `kept` hits. The estimate comes from each hit's length,
 * never from a text, so where the cut falls does not depend on how far the indexer got.
 */
function toFetch(hits: RecallHit[], maxHits: number, room: number) {
  const wanted = new Map<string, { sessionId: string; seq: number }>();
  // In units of the room: a known cost counts for more of it than a rough guess, which has the
  // larger margin.
  let estimate = 0;
  let kept = 0;
  for (const [rank, h] of hits.slice(0, maxHits).entries()) {
    if (estimate > room) break;
    kept++;
    const strong = bringsNeighbours(hits, rank);
    const around = (strong ? [h.seq - 1, h.seq, h.seq + 1] : [h.seq]).filter(
      (seq) => seq >= 1 && !wanted.has(`${h.sessionId}#${seq}`),
    );
    if (!around.length) continue;
    // A neighbour is taken to cost what the hit does: the estimate never depends on a text, so
    // where the cut falls does not depend on how far the indexer got.
    estimate +=
      h.tok === undefined
        ? (around.length * (TOKENS_PER_TERM * (h.len ?? 0) + recallLimits.minTurnTokens)) / FETCH_MARGIN
        : (around.length * (h.tok + LINE_TOKENS)) / KNOWN_MARGIN;
    for (const seq of around) wanted.set(`${h.sessionId}#${seq}`, { sessionId: h.sessionId, seq });
  }
  return { wanted: [...wanted.values()], kept };
}

/** Names stated by the best (strong) hits that the query does not have yet: the second round's terms. */
function expansionTerms(hits: RecallHit[], weights: Map<string, number>): string[] {
  const best = hits[0]?.score ?? 0;
  const out = new Set<string>();
  for (const h of hits.slice(0, recallLimits.expandFrom)) {
    if (h.score < NEIGHBOUR_SCORE_RATIO * best) break;
    for (const term of h.names?.split(' ') ?? []) {
      if (term && !weights.has(term) && out.size < recallLimits.maxExpansionTerms) out.add(term);
    }
  }
  return [...out];
}

const merge = (a: ScopeSnapshot, b: ScopeSnapshot): ScopeSnapshot => ({
  ...a,
  terms: new Map([...a.terms, ...b.terms]),
});

/** Port: what the indexer needs of the recall index. */
export interface RecallIndexPort {
  stats(tenantId: string, scope: Scope): Promise<ScopeStats>;
  /** writes a batch's postings; `from` (the watermark the batch starts after) names the batch, so a
   * retried batch overwrites what a crashed run wrote */
  writePostings(tenantId: string, scope: Scope, from: number, byTerm: Map<string, Posting[]>): Promise<void>;
  /** adds a batch's counters and moves the session's watermark from `from` to `to`; false if another
   * run moved it first */
  advance(
    tenantId: string,
    scope: Scope,
    sessionId: string,
    batch: { from: number; to: number; docs: number; length: number },
  ): Promise<boolean>;
  /** adds the batch (its postings and all its turns) to the session scope's pack (recall-pack.ts),
   * after its counters moved; a pack that cannot follow (missed a batch, grew too large) is dropped,
   * and builds read the blocks and fetch turns */
  pack(
    tenantId: string,
    sessionId: string,
    batch: { from: number; to: number; docs: number },
    byTerm: Map<string, Posting[]>,
    turns: StoredTurn[],
  ): Promise<void>;
}

/** The turns of a session after a seq, oldest first, up to a bound (the event log's reader). */
export type TurnsAfter = (after: number, limit: number) => Promise<{ turns: StoredTurn[]; lastSeq: number }>;

/** Turns indexed per run and scope; a longer backlog is indexed by the next runs. */
export const INDEX_BATCH = 500;

/**
 * Indexes a session's new turns into its session scope and, when it belongs to a user, the user's
 * scope. Idempotent and safe to run twice at once: postings are plain Puts of the same items, and the
 * counters move only with the watermark they were computed from.
 */
export async function indexSession(
  port: RecallIndexPort,
  turnsAfter: TurnsAfter,
  ref: { tenantId: string; sessionId: string; userId?: string },
): Promise<{ indexed: number }> {
  let indexed = 0;
  const scopes = [sessionScope(ref.sessionId), ...(ref.userId ? [userScope(ref.userId)] : [])];
  for (const scope of scopes) {
    const stats = await port.stats(ref.tenantId, scope);
    const from = stats.watermarks[ref.sessionId] ?? 0;
    const { turns, lastSeq } = await turnsAfter(from, INDEX_BATCH);
    if (lastSeq <= from) continue;
    const { byTerm, docs, length } = postingsOf(ref.sessionId, turns);
    await port.writePostings(ref.tenantId, scope, from, byTerm);
    if (await port.advance(ref.tenantId, scope, ref.sessionId, { from, to: lastSeq, docs, length })) {
      indexed += docs;
      // Only the run that moved the counters packs the batch: the pack follows them exactly.
      if (scope === sessionScope(ref.sessionId)) {
        await port.pack(ref.tenantId, ref.sessionId, { from, to: lastSeq, docs }, byTerm, turns);
      }
    }
  }
  return { indexed };
}
