import type { StructuredSummary } from '../facts';
import type { StoredTurn } from '../session';
import { analyze, splitSentences, splitSpeaker } from './terms';

/**
 * How much a sentence says, measured on the text being summarized: rare content terms (inverse
 * frequency over this run's sentences and the previous summary's facts, longer words a little
 * more), proper names, numbers and dates. A sentence repeating what is already kept says little
 * new: novelty is the share of its term weight not already covered by a kept fact.
 */

const NAME_BONUS = 2;
const NUMBER_BONUS = 1.5;
const DATE_BONUS = 1.5;

export interface Profile {
  /** weight of each distinct content term */
  weights: Map<string, number>;
  score: number;
}

export class SalienceModel {
  private readonly df = new Map<string, number>();
  private docs = 0;
  private readonly cache = new Map<string, Profile>();

  /** `speakers`: lowercased names of the chat's speakers (addressing someone is not a name signal) */
  constructor(
    texts: string[],
    private readonly speakers: ReadonlySet<string>,
  ) {
    for (const text of texts) {
      this.docs++;
      for (const t of analyze(splitSpeaker(text).body, speakers).terms)
        this.df.set(t, (this.df.get(t) ?? 0) + 1);
    }
  }

  /** A term seen in fewer texts weighs more; an unseen one (a model's wording) counts as rare. */
  private weightOf(term: string): number {
    const idf = Math.log(1 + this.docs / (this.df.get(term) ?? 0.5));
    // Longer words tend to be more specific ("lisbon", "adoption" over "went", "day").
    return idf * Math.min(1.5, 0.5 + term.length / 8);
  }

  /** The profile of a fact or sentence text ("Name: " prefix ignored). */
  profile(text: string): Profile {
    const known = this.cache.get(text);
    if (known) return known;
    const a = analyze(splitSpeaker(text).body, this.speakers);
    const weights = new Map(a.terms.map((t) => [t, this.weightOf(t)]));
    let score = NAME_BONUS * a.names + NUMBER_BONUS * a.numbers + DATE_BONUS * a.dates;
    for (const w of weights.values()) score += w;
    const profile = { weights, score };
    this.cache.set(text, profile);
    return profile;
  }
}

/** Share (0..1) of `a`'s term weight that `b` already says. */
export function overlap(a: Profile, b: Profile): number {
  let total = 0;
  let shared = 0;
  for (const [term, w] of a.weights) {
    total += w;
    if (b.weights.has(term)) shared += w;
  }
  return total === 0 ? 1 : shared / total;
}

/** The lowercased words of every "Name:" speaker of these texts. */
export function speakersOf(texts: string[]): Set<string> {
  const out = new Set<string>();
  for (const text of texts) {
    const { speaker } = splitSpeaker(text);
    for (const word of speaker?.toLowerCase().split(' ') ?? []) out.add(word.replace(/\.$/, ''));
  }
  return out;
}

/** The model of one summarization run: this run's sentences and the previous summary's facts. */
export function salienceModelOf(turns: StoredTurn[], previous: StructuredSummary | null): SalienceModel {
  const texts = turns
    .filter((t) => t.role !== 'tool')
    .flatMap((t) => splitSentences(splitSpeaker(t.content).body));
  const facts = (previous?.facts ?? []).map((f) => f.text);
  const speakers = speakersOf([...turns.map((t) => t.content), ...facts]);
  return new SalienceModel([...texts, ...facts], speakers);
}
