import type { StoredTurn } from '../session';
import type { TokenCounter } from '../tokens';
import { composeSummary } from './compose';
import type { Candidate, EngineResult, FactKind, SummarizeInput, SummarizerEngine } from './engine';
import { factKey } from './keys';

/**
 * The default engine: no model, offline, reproducible. Splits turns into sentences, keeps those with
 * lexical cues of a durable fact ("my name is", "I prefer", "we decided", "deadline", numbers and
 * dates), keys each by its normalized subject and cites the event (seq) and the app's turn ref.
 */

/** A sentence longer than this is cut at a word boundary: one fact must not eat the budget. */
const MAX_FACT_CHARS = 320;

const TIME_CUE =
  /\b(?:today|tomorrow|tonight|next (?:week|month|year)|by (?:the )?(?:end|monday|tuesday|wednesday|thursday|friday|saturday|sunday)|deadline|due)\b/i;
/** Numbers, dates and weekdays ("may" only next to a number: it is mostly a verb). */
const CONCRETE =
  /\d|\b(?:january|february|march|april|june|july|august|september|october|november|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b/i;

interface Rule {
  kind: FactKind;
  /** only user turns (facts about the user come from the user) */
  userOnly?: boolean;
  match: RegExp;
  /** the subject the key is made of: a fixed name or from the match */
  subject: (m: RegExpExecArray, sentence: string) => string;
  words?: number;
}

/** First match wins; ordered from the most specific cue to the most generic. */
const RULES: Rule[] = [
  {
    kind: 'user',
    userOnly: true,
    match: /\b(?:my name is|call me|i am called)\s+\p{Lu}/iu,
    subject: () => 'name',
  },
  { kind: 'user', userOnly: true, match: /\bi (?:live|am based|'m based) in\b/i, subject: () => 'location' },
  { kind: 'user', userOnly: true, match: /\bi work (?:at|for|as)\b/i, subject: () => 'work' },
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
    subject: (m) => m[1]!,
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
  { kind: 'note', match: CONCRETE, subject: (_m, s) => s, words: 4 },
];

/** "The deadline for the migration is ..." → "migration"; otherwise the sentence itself. */
function deadlineSubject(sentence: string): string {
  const m = /\bdeadline (?:for|of|on) (.+?)(?:\s+(?:is|was|moved|will|has)\b|[,.;:]|$)/i.exec(sentence);
  if (m) return m[1]!;
  const before = /^(.*?)\b(?:is|are)\s+due\b/i.exec(sentence);
  return before?.[1] || sentence;
}

export function splitSentences(content: string): string[] {
  return content
    .split(/(?<=[.!?])\s+|\n+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 3);
}

function clip(text: string): string {
  if (text.length <= MAX_FACT_CHARS) return text;
  const cut = text.slice(0, MAX_FACT_CHARS);
  return `${cut.slice(0, Math.max(cut.lastIndexOf(' '), 1))}…`;
}

const SPEAKER = { user: 'User', assistant: 'Assistant', tool: 'Tool' } as const;

/** The candidates of one turn, in sentence order. Tool output is data, not conversation: skipped. */
export function candidatesOf(turn: StoredTurn): Candidate[] {
  if (turn.role === 'tool') return [];
  const out: Candidate[] = [];
  for (const sentence of splitSentences(turn.content)) {
    if (sentence.endsWith('?')) continue; // questions assert nothing
    const rule = RULES.find((r) => (!r.userOnly || turn.role === 'user') && r.match.test(sentence));
    if (!rule) continue;
    const m = rule.match.exec(sentence)!;
    // A commitment needs a time or an explicit promise; "I'll explain" is not one.
    if (rule.kind === 'commitment' && !TIME_CUE.test(sentence) && !CONCRETE.test(sentence)) continue;
    out.push({
      key: factKey(rule.kind, rule.subject(m, sentence), rule.words),
      text: `${SPEAKER[turn.role]}: ${clip(sentence)}`,
      citations: [{ seq: turn.seq, ...(turn.ref ? { ref: turn.ref } : {}) }],
    });
  }
  return out;
}

export class ExtractiveEngine implements SummarizerEngine {
  readonly name = 'extractive';
  constructor(private readonly tokens: TokenCounter) {}

  async summarize(input: SummarizeInput): Promise<EngineResult> {
    return composeSummary(input, input.turns.flatMap(candidatesOf), this.name, this.tokens);
  }
}
