import {
  type Posting,
  postingOf,
  recallLimits,
  type Scope,
  type ScopeSnapshot,
  type ScopeStats,
} from './recall';
import type { StoredTurn } from './session';

/**
 * A session scope's whole recall index packed into one text, which the store keeps gzipped in one
 * item beside the scope's counters. A build reads it with the session item and the counters in one
 * request, and it answers every term the build asks, both rounds, and hands over the recalled turns,
 * with no Query and no turn fetch. It holds exactly the postings the term blocks hold up to the same
 * watermark, so either way ranks the same, and copies of the log's turns (which never change).
 *
 * Line 1 lists the documents, `seq,len,day,q,names,tok|…` (names space-separated, tok empty when
 * unknown); then one line per term, `term\tseq,tf[,1]|…` (1: the term is the turn's speaker), and one
 * per turn of the log, `#seq\t<the turn as JSON>`. Postings are in seq order, as indexed.
 */
export interface Pack {
  docs: string;
  /** per term, its line's postings (undecoded: a build decodes only the terms it asks) */
  terms: Map<string, string>;
  /** per seq, the turn as JSON (parsed only when recalled) */
  turns: Map<number, string>;
}

const emptyPack = (): Pack => ({ docs: '', terms: new Map(), turns: new Map() });

/** The pack with a batch added: its postings, and all its turns (a neighbour may be any turn). */
function packAdd(pack: Pack, byTerm: Map<string, Posting[]>, batch: StoredTurn[]): Pack {
  const docs = new Map<number, Posting>();
  const terms = new Map(pack.terms);
  for (const [term, postings] of byTerm) {
    const entries = postings.map((p) => {
      docs.set(p.seq, p);
      return `${p.seq},${p.tf}${p.sp ? ',1' : ''}`;
    });
    const had = terms.get(term);
    terms.set(term, had ? `${had}|${entries.join('|')}` : entries.join('|'));
  }
  const added = [...docs.values()]
    .sort((a, b) => a.seq - b.seq)
    .map((p) => `${p.seq},${p.len},${p.day},${p.q},${p.e},${p.tok ?? ''}`);
  const all = pack.docs ? [pack.docs, ...added] : added;
  const turns = new Map(pack.turns);
  for (const t of batch) turns.set(t.seq, JSON.stringify(t));
  return { docs: all.join('|'), terms, turns };
}

export function encodePack(pack: Pack): string {
  return [
    pack.docs,
    ...[...pack.terms].map(([term, line]) => `${term}\t${line}`),
    ...[...pack.turns].map(([seq, json]) => `#${seq}\t${json}`),
  ].join('\n');
}

export function decodePack(text: string): Pack {
  const [docs = '', ...lines] = text.split('\n');
  const terms = new Map<string, string>();
  const turns = new Map<number, string>();
  for (const line of lines) {
    const tab = line.indexOf('\t');
    // A term is letters and digits (analyzer.ts): never '#'.
    if (line.startsWith('#')) turns.set(Number(line.slice(1, tab)), line.slice(tab + 1));
    else terms.set(line.slice(0, tab), line.slice(tab + 1));
  }
  return { docs, terms, turns };
}

/** A turn of the pack's session by seq, or undefined when the pack does not hold it. */
function packTurn(pack: Pack, seq: number): StoredTurn | undefined {
  const json = pack.turns.get(seq);
  return json === undefined ? undefined : (JSON.parse(json) as StoredTurn);
}

/** A pack as stored: the watermark, documents and batches it was built to, and its content. */
export interface StoredPack {
  w: number;
  docs: number;
  batches: number;
  pack: Pack;
}

/**
 * The pack after a batch from `from`, or null when there should be none. A pack follows the counters
 * batch by batch from a session's first: one that missed a batch (a run cut short between the counters
 * and the pack, a session indexed before packs) cannot catch up, and past recallLimits.blocksPerTerm
 * batches (what the blocks path reads of a term) it would answer what the blocks cannot.
 */
export function packFollow(
  had: StoredPack | null,
  batch: { from: number; to: number; docs: number },
  byTerm: Map<string, Posting[]>,
  turns: StoredTurn[],
): StoredPack | null {
  const base = had
    ? had.w === batch.from
      ? had
      : null
    : batch.from === 0
      ? { w: 0, docs: 0, batches: 0, pack: emptyPack() }
      : null;
  if (!base || base.batches >= recallLimits.blocksPerTerm) return null;
  return {
    w: batch.to,
    docs: base.docs + batch.docs,
    batches: base.batches + 1,
    pack: packAdd(base.pack, byTerm, turns),
  };
}

/**
 * A build's snapshot of a session scope from its pack: every term it asks, and more later, with no
 * read. Null unless the pack is at the counters' watermark (then the blocks are read instead).
 */
export function packSnapshot(
  scope: Scope,
  stats: ScopeStats,
  stored: StoredPack | null,
  terms: string[],
): ScopeSnapshot | null {
  const sessionId = scope.slice(2);
  if (!stored || stored.w !== (stats.watermarks[sessionId] ?? 0) || stored.docs !== stats.docs) return null;
  const postingsOf = packLookup(stored.pack, sessionId);
  const lookup = (ts: string[]) =>
    new Map(
      ts.map((term) => {
        const postings = postingsOf(term);
        return [term, { postings, total: postings.length }];
      }),
    );
  return { scope, stats, terms: lookup(terms), lookup, turn: (seq) => packTurn(stored.pack, seq) };
}

/** A term lookup over a pack: each term's postings, as the term blocks would give them. */
function packLookup(pack: Pack, sessionId: string) {
  let docs: Map<number, string[]> | undefined;
  return (term: string): Posting[] => {
    const line = pack.terms.get(term);
    if (!line) return [];
    docs ??= new Map(
      pack.docs
        .split('|')
        .filter(Boolean)
        .map((d) => {
          const fields = d.split(',');
          return [Number(fields[0]), fields];
        }),
    );
    return line.split('|').map((entry) => {
      const [seq, tf, sp] = entry.split(',');
      const [, len, day, q, e, tok] = docs!.get(Number(seq)) ?? [];
      return postingOf(sessionId, [seq, tf, len, day, q, e, sp, tok]);
    });
  };
}
