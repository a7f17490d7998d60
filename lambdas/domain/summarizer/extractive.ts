import type { SummaryFact } from '../facts';
import type { StoredTurn } from '../session';
import type { TokenCounter } from '../tokens';
import { composeSummary } from './compose';
import type { Candidate, EngineResult, FactKind, SummarizeInput, SummarizerEngine } from './engine';
import { contentWords, factKey } from './keys';
import { analyze, isContentBearing, splitSentences, splitSpeaker } from './terms';

/**
 * The default engine: no model, offline, reproducible. Splits turns into sentences. A sentence with
 * the cue of a durable fact ("my name is", "I moved to", "I prefer", "we decided", "deadline") is
 * keyed by its subject, per speaker, so a later statement about the same subject replaces it; any
 * other sentence that carries content becomes a note, ranked later by salience (compose.ts). Every
 * candidate cites the event (seq) and the app's turn ref.
 */

/** A sentence longer than this is cut at a word boundary: one fact must not eat the budget. */
const MAX_FACT_CHARS = 320;

const TIME_CUE =
  /\b(?:today|tomorrow|tonight|next (?:week|month|year)|by (?:the )?(?:end|monday|tuesday|wednesday|thursday|friday|saturday|sunday)|deadline|due)\b/i;
/** Numbers, dates and weekdays ("may" only next to a number: it is mostly a verb). */
const CONCRETE =
  /\d|\b(?:january|february|march|april|june|july|august|september|october|november|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b/i;

/** Things people name; a new one replaces the old one's fact ("my new puppy is named Max"). */
const NAMED_THING: Record<string, string> = {
  dog: 'dog',
  puppy: 'dog',
  cat: 'cat',
  kitten: 'cat',
  pet: 'pet',
  car: 'car',
  phone: 'phone',
  bike: 'bike',
  boat: 'boat',
  horse: 'horse',
};

interface Rule {
  kind: FactKind;
  /** only user turns (facts about the user come from the user) */
  userOnly?: boolean;
  match: RegExp;
  /** the subject the key is made of: a fixed name or from the match */
  subject: (m: RegExpExecArray, sentence: string) => string;
  words?: number;
}

const ADVERBS = "(?:'ve|'m|'re| have| am| are)?(?: (?:just|recently|now|finally|currently|still|been))*";

/** First match wins; ordered from the most specific cue to the most generic. */
const RULES: Rule[] = [
  {
    kind: 'user',
    userOnly: true,
    match: /\b(?:my name is|call me|i am called|i'm called)\s+(?=\p{Lu})/iu,
    subject: () => 'name',
  },
  {
    kind: 'user',
    userOnly: true,
    match: new RegExp(
      `\\b(?:my|our|a|the)\\s+(?:new\\s+)?(${Object.keys(NAMED_THING).join('|')})(?:'s name is| is named| is called| named| called)\\s+`,
      'i',
    ),
    subject: (m) => NAMED_THING[m[1]!.toLowerCase()]!,
  },
  {
    kind: 'user',
    userOnly: true,
    // "I live in", "I now live in", "I moved from Boston to Lisbon", "we relocated to Porto"
    match: new RegExp(
      `\\b(?:i|we)${ADVERBS} (?:live|lived|living|based|moved|relocated|moving)\\b.*?\\b(?:in|to)\\b`,
      'i',
    ),
    subject: () => 'location',
  },
  {
    kind: 'user',
    userOnly: true,
    // "I work at", "I now work as", "I started working at", "I changed jobs", "I got a new job as"
    match: new RegExp(
      `\\bi${ADVERBS} (?:work(?:ing)? (?:at|for|as|in)|started (?:working|a (?:new )?job)|(?:changed|switched) jobs|(?:got|took|started) a (?:new )?job|joined .{1,40}? as)\\b`,
      'i',
    ),
    subject: () => 'work',
  },
  {
    kind: 'user',
    userOnly: true,
    match: /\bi (?:prefer|like|love|hate|dislike|am allergic to|'m allergic to)\s+(.+)/i,
    subject: (m) => `prefers ${m[1]}`,
  },
  {
    kind: 'user',
    userOnly: true,
    match: /\bmy ((?:[a-z]+ ){0,2}[a-z]+) (?:is|are|was|has been)\b/i,
    // "my new car is" speaks of the same car as "my car is"
    subject: (m) => m[1]!.replace(/^(?:new|current|latest) /i, ''),
  },
  {
    kind: 'decision',
    match:
      /\b(?:we|i|they|the team) (?:have |'ve |has )?(?:decided|agreed|chose|chosen|settled on|will go with|are going with)\b(?:\s+(?:to|that|on|with))?\s*(.*)/i,
    subject: (m) => m[1]!,
  },
  {
    kind: 'commitment',
    match: /\b(?:deadline|due (?:on|by|date)|no later than)\b/i,
    subject: (_m, s) => `deadline ${deadlineSubject(s)}`,
  },
  {
    kind: 'commitment',
    match: /\b(?:i|we)(?: will|'ll| promise to| commit to| am going to|'m going to| are going to)\s+(.*)/i,
    subject: (m) => m[1]!,
  },
];

/** "Actually, it's Porto, not Lisbon.": the fact that said Lisbon is replaced. */
const CORRECTION =
  /\bactually,?\s+(?:it's|it is|its|it was|that's|i meant|i mean)\s+(.+?),?\s+not\s+(?:the\s+|a\s+)?(.+?)[.!]*$/i;

/** "The deadline for the migration is ..." → "migration"; otherwise the sentence itself. */
function deadlineSubject(sentence: string): string {
  const m = /\bdeadline (?:for|of|on) (.+?)(?:\s+(?:is|was|moved|will|has)\b|[,.;:]|$)/i.exec(sentence);
  if (m) return m[1]!;
  const before = /^(.*?)\b(?:is|are)\s+due\b/i.exec(sentence);
  return before?.[1] || sentence;
}

function clip(text: string): string {
  if (text.length <= MAX_FACT_CHARS) return text;
  const cut = text.slice(0, MAX_FACT_CHARS);
  return `${cut.slice(0, Math.max(cut.lastIndexOf(' '), 1))}…`;
}

const SPEAKER = { user: 'User', assistant: 'Assistant', tool: 'Tool' } as const;

/** Who said a turn: its "Name:" prefix in a multi-party chat, else its role. */
interface Voice {
  speaker: string;
  /** a named speaker: subjects are theirs (Melanie's location is not Caroline's) */
  named: boolean;
  body: string;
}

function voiceOf(turn: StoredTurn): Voice {
  const { speaker, body } = splitSpeaker(turn.content);
  return speaker
    ? { speaker, named: true, body }
    : { speaker: SPEAKER[turn.role], named: false, body: turn.content };
}

/** Keys of a named speaker's facts start with the speaker; the role's keep their old form. */
function keyOf(voice: Voice, kind: FactKind, subject: string, words = 3): string {
  if (!voice.named) return factKey(kind, subject, words);
  return factKey(kind, `${voice.speaker} ${subject}`, words + contentWords(voice.speaker).length);
}

/** The text after a rule's cue must say something: "I love it." is no preference. */
function saysSomething(rule: Rule, m: RegExpExecArray, sentence: string): boolean {
  // What follows the cue, or what the rule captured when it runs to the end ("I prefer (.+)").
  const value = analyze(sentence.slice(m.index + m[0].length) || (m[1] ?? ''));
  if (value.terms.length + value.names + value.numbers + value.dates === 0) return false;
  // A commitment needs a time or an explicit promise; "I'll explain" is not one.
  return rule.kind !== 'commitment' || TIME_CUE.test(sentence) || CONCRETE.test(sentence);
}

/** A fact found so far, to resolve corrections against. */
interface Known {
  key: string;
  speaker: string;
  text: string;
}

/** The newest known fact of this speaker that says `old`, or undefined. */
function corrected(known: Known[], speaker: string, old: string): Known | undefined {
  const word = new RegExp(`\\b${old.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`, 'i');
  for (let i = known.length - 1; i >= 0; i--) {
    const k = known[i]!;
    if (k.speaker === speaker && word.test(splitSpeaker(k.text).body)) return k;
  }
  return undefined;
}

/** The candidates of one sentence: a keyed durable fact, a correction of one, a note, or nothing. */
function candidateOf(turn: StoredTurn, voice: Voice, sentence: string, known: Known[]): Candidate | null {
  if (sentence.endsWith('?')) return null; // questions assert nothing
  const text = `${voice.speaker}: ${clip(sentence)}`;
  const citations = [{ seq: turn.seq, ...(turn.ref ? { ref: turn.ref } : {}) }];
  const fix = CORRECTION.exec(sentence);
  const target = fix && corrected(known, voice.speaker, fix[2]!.trim());
  if (target) return { key: target.key, text, citations };
  for (const rule of RULES) {
    if (rule.userOnly && turn.role !== 'user') continue;
    const m = rule.match.exec(sentence);
    if (!m) continue;
    if (!saysSomething(rule, m, sentence)) break;
    return { key: keyOf(voice, rule.kind, rule.subject(m, sentence), rule.words), text, citations };
  }
  if (!isContentBearing(analyze(sentence))) return null;
  return { key: keyOf(voice, 'note', sentence, 4), text, citations };
}

/** Every candidate of the turns, in conversation order. Tool output is data, not conversation: skipped. */
export function extractCandidates(turns: StoredTurn[], previous: SummaryFact[] = []): Candidate[] {
  const known: Known[] = previous.map((f) => ({
    key: f.key,
    speaker: splitSpeaker(f.text).speaker ?? '',
    text: f.text,
  }));
  const out: Candidate[] = [];
  for (const turn of turns) {
    if (turn.role === 'tool') continue;
    const voice = voiceOf(turn);
    for (const sentence of splitSentences(voice.body)) {
      const candidate = candidateOf(turn, voice, sentence, known);
      if (!candidate) continue;
      out.push(candidate);
      known.push({ key: candidate.key, speaker: voice.speaker, text: candidate.text });
    }
  }
  return out;
}

export class ExtractiveEngine implements SummarizerEngine {
  readonly name = 'extractive';
  constructor(private readonly tokens: TokenCounter) {}

  async summarize(input: SummarizeInput): Promise<EngineResult> {
    const candidates = extractCandidates(input.turns, input.previous?.facts ?? []);
    return composeSummary(input, candidates, this.name, this.tokens);
  }
}
