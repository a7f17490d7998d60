import type { TokenCounter } from '../lambdas/domain/tokens';
import type { Conversation, Turn } from './recall-corpus';

/**
 * What a team would do without context-plane, computed in-process from the same corpus, the same
 * question and the same total: the newest turns, BM25 over the raw turns, or the whole transcript.
 * Tokens are charged as the project's budgeter charges them (tiktoken per turn, 3 per chat message,
 * the question as the user message plus 3 of reply priming), so the totals compare.
 */

/** the chat-message framing the budgeter charges per message */
export const MESSAGE_OVERHEAD = 3;

export interface Message {
  role: string;
  content: string;
}
export interface BuiltContext {
  messages: Message[];
  tokens: number;
}

/** A turn as it is appended to context-plane: the speaker goes into the content. */
export const contentOf = (t: Turn) => `${t.speaker}: ${t.text}`;

// Untyped CommonJS packages: the same libraries the recall engineer ranks with.
const { removeStopwords, eng } = require('stopword') as {
  removeStopwords(words: string[], stopwords?: string[]): string[];
  eng: string[];
};
const stem = require('wink-porter2-stemmer') as (word: string) => string;

/** lowercase, split on anything not a letter or digit, drop stopwords, Porter2-stem */
export function terms(text: string): string[] {
  const words = text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
  return removeStopwords(words, eng).map(stem);
}

/** Per-conversation state the baselines share: token counts and BM25 statistics, computed once. */
export class Baselines {
  private readonly tokens: number[];
  private readonly docs: Map<string, number>[];
  private readonly lengths: number[];
  private readonly df = new Map<string, number>();
  private readonly avgLength: number;

  constructor(
    private readonly conversation: Conversation,
    private readonly counter: TokenCounter,
  ) {
    const turns = conversation.turns;
    this.tokens = turns.map((t) => counter.count(contentOf(t)) + MESSAGE_OVERHEAD);
    this.docs = turns.map((t) => {
      const tf = new Map<string, number>();
      for (const term of terms(contentOf(t))) tf.set(term, (tf.get(term) ?? 0) + 1);
      return tf;
    });
    this.lengths = this.docs.map((d) => [...d.values()].reduce((a, b) => a + b, 0));
    for (const d of this.docs) for (const term of d.keys()) this.df.set(term, (this.df.get(term) ?? 0) + 1);
    this.avgLength = this.lengths.reduce((a, b) => a + b, 0) / Math.max(1, turns.length);
  }

  /** the question as the user message, plus the reply priming */
  private inputTokens(question: string) {
    return this.counter.count(question) + MESSAGE_OVERHEAD + 3;
  }

  private render(question: string, picked: number[], spent: number): BuiltContext {
    const turns = this.conversation.turns;
    const messages = [...picked]
      .sort((a, b) => a - b)
      .map((i) => ({ role: 'user', content: contentOf(turns[i]!) }));
    messages.push({ role: 'user', content: question });
    return { messages, tokens: spent };
  }

  /** (a) the newest turns that fit, contiguous: the first one that does not fit ends the window */
  lastN(question: string, total: number): BuiltContext {
    let spent = this.inputTokens(question);
    const picked: number[] = [];
    for (let i = this.tokens.length - 1; i >= 0; i--) {
      if (spent + this.tokens[i]! > total) break;
      spent += this.tokens[i]!;
      picked.push(i);
    }
    return this.render(question, picked, spent);
  }

  /** (b) BM25 (k1 1.2, b 0.75) over the raw turns; best first, a turn that does not fit is skipped */
  bm25(question: string, total: number, k1 = 1.2, b = 0.75): BuiltContext {
    const n = this.docs.length;
    const query = [...new Set(terms(question))];
    const scored: { i: number; score: number }[] = [];
    this.docs.forEach((doc, i) => {
      let score = 0;
      for (const term of query) {
        const tf = doc.get(term);
        if (!tf) continue;
        const df = this.df.get(term)!;
        const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
        score += (idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * this.lengths[i]!) / this.avgLength));
      }
      if (score > 0) scored.push({ i, score });
    });
    scored.sort((x, y) => y.score - x.score || x.i - y.i);
    let spent = this.inputTokens(question);
    const picked: number[] = [];
    for (const { i } of scored) {
      if (spent + this.tokens[i]! > total) continue;
      spent += this.tokens[i]!;
      picked.push(i);
    }
    return this.render(question, picked, spent);
  }

  /** (c) the whole transcript, whatever the budget */
  full(question: string): BuiltContext {
    const all = this.tokens.map((_, i) => i);
    return this.render(
      question,
      all,
      this.tokens.reduce((a, b) => a + b, this.inputTokens(question)),
    );
  }
}

/**
 * A question is recalled when every evidence turn is in the context: its text appears in some
 * message, or its id appears as a citation (`D3:1` must not match inside `D3:12`).
 */
export function recalled(messages: Message[], evidence: Turn[]): boolean {
  return evidence.every((turn) => {
    const cited = new RegExp(`(?<![\\w:])${turn.id}(?![\\d])`);
    return messages.some((m) => m.content.includes(turn.text) || cited.test(m.content));
  });
}
