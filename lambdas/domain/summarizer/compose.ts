import type { Citation, StructuredSummary, SummaryFact } from '../facts';
import type { TokenCounter } from '../tokens';
import { type Candidate, kindOf, type SummarizeInput } from './engine';
import { overlap, type Profile, type SalienceModel, salienceModelOf } from './salience';

/**
 * What both engines share: merging new candidates into the previous summary (newest wins per key),
 * recency from seq position, the time of the newest cited turn, and the token caps: durable facts
 * first, then notes by content per token, skipping what the kept facts already say. Pure and
 * deterministic: the same input always gives the same summary.
 */

/** A restated fact keeps at most this many citations (the newest). */
const MAX_CITATIONS = 5;
const SHORT_SEPARATOR = '; ';
/** Whatever the token cap, the summary lives in the session item (400 KB with its recent turns):
 * 200 facts of at most ~330 characters stay under ~100 KB. */
export const MAX_SUMMARY_FACTS = 200;
/** A note whose content a kept fact already says to this share is redundant: never kept. */
const REDUNDANT = 0.6;

/** Who the user is outranks what was decided or promised, which outranks other concrete values. */
const KIND_WEIGHT = { user: 4, decision: 3, commitment: 3, note: 1 } as const;

/** How much a fact is worth keeping: its kind, the user's name above all, concrete values above vague ones. */
export function salienceOf(fact: { key: string; text: string }): number {
  const name = fact.key === 'user:name' ? 1 : 0;
  const concrete = /\d/.test(fact.text) ? 0.5 : 0;
  return KIND_WEIGHT[kindOf(fact.key)] + name + concrete;
}

const newestSeq = (citations: Citation[]) => citations.reduce((m, c) => Math.max(m, c.seq ?? 0), 0);
const normalized = (text: string) => text.toLowerCase().replace(/\s+/g, ' ').trim();

/** Merges candidates (in seq order) over previous facts by key: the newer statement wins. */
export function mergeFacts(previous: SummaryFact[], candidates: Candidate[]): Map<string, Candidate> {
  const byKey = new Map<string, Candidate>();
  for (const f of previous)
    byKey.set(f.key, { key: f.key, text: f.text, citations: f.citations, ...(f.at ? { at: f.at } : {}) });
  for (const c of candidates) {
    const old = byKey.get(c.key);
    // Said again in the same words: one fact, cited where it was said (newest citations kept).
    const citations =
      old && normalized(old.text) === normalized(c.text)
        ? dedupeCitations([...old.citations, ...c.citations]).slice(-MAX_CITATIONS)
        : c.citations;
    byKey.set(c.key, { key: c.key, text: c.text, citations });
  }
  return byKey;
}

function dedupeCitations(citations: Citation[]): Citation[] {
  const seen = new Set<string>();
  return citations.filter((c) => {
    const id = `${c.sessionId ?? ''}#${c.seq ?? ''}#${c.ref ?? ''}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

/** Keep order: most salient first, then most recent, then key (a total order: deterministic). */
export function byImportance(a: SummaryFact, b: SummaryFact): number {
  return (
    salienceOf(b) - salienceOf(a) ||
    newestSeq(b.citations) - newestSeq(a.citations) ||
    (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
  );
}

/** Builds the capped summary from previous facts and this run's candidates. */
export function composeSummary(
  input: SummarizeInput,
  candidates: Candidate[],
  engine: string,
  tokens: TokenCounter,
): { summary: StructuredSummary; extracted: SummaryFact[] } {
  const previousTokens = new Map((input.previous?.facts ?? []).map((f) => [`${f.key}\n${f.text}`, f.tokens]));
  const turnAt = new Map(input.turns.map((t) => [t.seq, t.at]));
  const watermark = Math.max(1, input.watermarkSeq);
  const toFact = (c: Candidate): SummaryFact => {
    const seq = newestSeq(c.citations);
    // When the newest cited turn was said; a fact carried over from an earlier run keeps its own.
    const at = turnAt.get(seq) ?? c.at;
    return {
      key: c.key,
      text: c.text,
      citations: c.citations,
      recency: Math.round((Math.min(seq, watermark) / watermark) * 1000) / 1000,
      // Counted once, when the fact is first written; an unchanged fact keeps its count.
      tokens: previousTokens.get(`${c.key}\n${c.text}`) ?? tokens.count(c.text),
      ...(at ? { at } : {}),
    };
  };
  const all = [...mergeFacts(input.previous?.facts ?? [], candidates).values()].map(toFact);
  const kept = selectFacts(all, input.caps.maxTokens, salienceModelOf(input.turns, input.previous));
  const total = kept.reduce((n, f) => n + f.tokens, 0);
  const short = shortForm(kept, input.caps.shortMaxTokens, tokens);
  // Stored in conversation order: the reader sees facts as they came up.
  kept.sort((a, b) => newestSeq(a.citations) - newestSeq(b.citations) || (a.key < b.key ? -1 : 1));
  const extracted = [...mergeFacts([], candidates).values()].map(toFact);
  return {
    summary: {
      facts: kept,
      short,
      tokens: total,
      watermarkSeq: input.watermarkSeq,
      engine,
      updatedAt: input.at,
    },
    extracted,
  };
}

interface Note {
  fact: SummaryFact;
  profile: Profile;
  /** content per token, softened so that one long sentence does not beat two short ones by length */
  value: number;
  /** the largest share of its content a kept fact already says */
  redundancy: number;
}

/**
 * Keeps facts within the cap, most important first: durable facts (keyed by subject, so never
 * redundant with each other) by importance, then notes greedily by value discounted by redundancy
 * (maximal marginal relevance), each pick lowering what the remaining notes add.
 */
export function selectFacts(facts: SummaryFact[], cap: number, model: SalienceModel): SummaryFact[] {
  const kept: SummaryFact[] = [];
  const keptProfiles: Profile[] = [];
  let total = 0;
  const keep = (fact: SummaryFact, profile: Profile) => {
    kept.push(fact);
    keptProfiles.push(profile);
    total += fact.tokens;
  };
  const durable = facts.filter((f) => kindOf(f.key) !== 'note').sort(byImportance);
  for (const fact of durable) {
    if (kept.length >= MAX_SUMMARY_FACTS) return kept;
    if (total + fact.tokens <= cap) keep(fact, model.profile(fact.text));
  }
  // A note that no longer fits or is redundant leaves the pool at once: every pick keeps one.
  const open = (n: Note) => n.redundancy < REDUNDANT && total + n.fact.tokens <= cap;
  let notes: Note[] = facts
    .filter((f) => kindOf(f.key) === 'note')
    .map((fact) => {
      const profile = model.profile(fact.text);
      const redundancy = Math.max(0, ...keptProfiles.map((k) => overlap(profile, k)));
      return { fact, profile, value: profile.score / Math.sqrt(Math.max(fact.tokens, 8)), redundancy };
    })
    .filter(open);
  while (notes.length > 0 && kept.length < MAX_SUMMARY_FACTS) {
    const [note] = notes.splice(bestNote(notes), 1);
    keep(note!.fact, note!.profile);
    for (const other of notes)
      other.redundancy = Math.max(other.redundancy, overlap(other.profile, note!.profile));
    notes = notes.filter(open);
  }
  return kept;
}

/** Index of the note worth most now; ties to the newest, then by key (deterministic). */
function bestNote(notes: Note[]): number {
  let best = 0;
  let bestGain = -1;
  for (let i = 0; i < notes.length; i++) {
    const n = notes[i]!;
    const gain = n.value * (1 - n.redundancy);
    const b = notes[best]!;
    const better =
      gain > bestGain ||
      (gain === bestGain &&
        (newestSeq(n.fact.citations) - newestSeq(b.fact.citations) || (n.fact.key < b.fact.key ? 1 : -1)) >
          0);
    if (better) {
      best = i;
      bestGain = gain;
    }
  }
  return best;
}

/** The coarser form: the most important facts' texts, joined, within its own cap. */
function shortForm(
  facts: SummaryFact[],
  cap: number,
  tokens: TokenCounter,
): { text: string; tokens: number } {
  let text = '';
  let count = 0;
  for (const fact of facts) {
    const next = text ? `${text}${SHORT_SEPARATOR}${fact.text}` : fact.text;
    // Cheap bound first (tokens are additive up to the separator), then the exact count.
    if (count + fact.tokens > cap) continue;
    const exact = tokens.count(next);
    if (exact > cap) continue;
    text = next;
    count = exact;
  }
  return { text, tokens: count };
}
