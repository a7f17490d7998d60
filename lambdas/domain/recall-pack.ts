import type { Posting } from './recall';

/**
 * A session scope's whole recall index packed into one text, which the store keeps gzipped in one
 * item beside the scope's counters. A build reads it with the session item and the counters in one
 * request, and it answers every term the build asks, both rounds, with no Query. It holds exactly the
 * postings the term blocks hold up to the same watermark, so either way ranks the same.
 *
 * Line 1 lists the documents, `seq,len,day,q,names,tok|…` (names space-separated, tok empty when
 * unknown); then one line per term, `term\tseq,tf[,1]|…` (1: the term is the turn's speaker).
 * Postings are in seq order, as indexed.
 */
export interface Pack {
  docs: string;
  /** per term, its line's postings (undecoded: a build decodes only the terms it asks) */
  terms: Map<string, string>;
}

export const emptyPack = (): Pack => ({ docs: '', terms: new Map() });

/** The pack with a batch's postings added (its turns all come after the pack's). */
export function packAdd(pack: Pack, byTerm: Map<string, Posting[]>): Pack {
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
  return { docs: all.join('|'), terms };
}

export function encodePack(pack: Pack): string {
  return [pack.docs, ...[...pack.terms].map(([term, line]) => `${term}\t${line}`)].join('\n');
}

export function decodePack(text: string): Pack {
  const [docs = '', ...lines] = text.split('\n');
  const terms = new Map<string, string>();
  for (const line of lines) {
    const tab = line.indexOf('\t');
    terms.set(line.slice(0, tab), line.slice(tab + 1));
  }
  return { docs, terms };
}

/** A term lookup over a pack: each term's postings, as the term blocks would give them. */
export function packLookup(pack: Pack, sessionId: string) {
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
      return {
        sessionId,
        seq: Number(seq),
        tf: Number(tf),
        len: Number(len),
        day: Number(day),
        q: Number(q),
        e: e ?? '',
        ...(sp === '1' ? { sp: 1 } : {}),
        ...(tok ? { tok: Number(tok) } : {}),
      };
    });
  };
}
