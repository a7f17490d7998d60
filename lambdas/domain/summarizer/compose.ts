import type { Citation, StructuredSummary, SummaryFact } from '../facts';
import type { TokenCounter } from '../tokens';
import { type Candidate, kindOf, type SummarizeInput } from './engine';

/**
 * What both engines share: merging new candidates into the previous summary (newest wins per key),
 * recency from seq position, and the token caps (drop lowest salience, then oldest). Pure and
 * deterministic: the same input always gives the same summary.
 */

/** A restated fact keeps at most this many citations (the newest). */
const MAX_CITATIONS = 5;
const SHORT_SEPARATOR = '; ';
/** Whatever the token cap, the summary lives in the session item (400 KB with its recent turns):
 * 200 facts of at most ~330 characters stay under ~100 KB. */
export const MAX_SUMMARY_FACTS = 200;

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
  for (const f of previous) byKey.set(f.key, { key: f.key, text: f.text, citations: f.citations });
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
  const watermark = Math.max(1, input.watermarkSeq);
  const toFact = (c: Candidate): SummaryFact => ({
    key: c.key,
    text: c.text,
    citations: c.citations,
    recency: Math.round((Math.min(newestSeq(c.citations), watermark) / watermark) * 1000) / 1000,
    // Counted once, when the fact is first written; an unchanged fact keeps its count.
    tokens: previousTokens.get(`${c.key}\n${c.text}`) ?? tokens.count(c.text),
  });
  const all = [...mergeFacts(input.previous?.facts ?? [], candidates).values()]
    .map(toFact)
    .sort(byImportance);

  const kept: SummaryFact[] = [];
  let total = 0;
  for (const fact of all) {
    if (kept.length >= MAX_SUMMARY_FACTS) break;
    if (total + fact.tokens > input.caps.maxTokens) continue;
    kept.push(fact);
    total += fact.tokens;
  }
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
