/**
 * What a sentence says, as the salience model sees it: its content terms (stemmed, without
 * stopwords or chat filler), the proper names, numbers and dates in it, and the "Name:" speaker
 * prefix multi-party chats put in front of a turn.
 */

import { isStopWord, stem } from '../analyzer';

/**
 * Interjections and reactions: in chat they carry no content ("lol", "I love it", "that's great",
 * "thanks"). Not a stopword list (the library's is used for that): words that make a sentence filler.
 */
const CHAT_FILLER = new Set(
  (
    'lol haha hahaha lmao omg wow yay aww ooh oh hey hi hello bye thanks thank cool nice great awesome ' +
    'amazing love lovely glad happy sounds sound totally definitely absolutely sure yeah yep yes no ok ' +
    'okay congrats congratulations exactly agree true good fun wonderful fantastic really so just ' +
    'know think guess feel mean thing things lot stuff'
  ).split(' '),
);

const MONTHS = 'january february march april may june july august september october november december'.split(
  ' ',
);
const WEEKDAYS = 'monday tuesday wednesday thursday friday saturday sunday'.split(' ');
const CALENDAR = new Set([...MONTHS, ...WEEKDAYS]);
/** Relative times: "when" questions are answered by them as much as by dates. */
const RELATIVE_TIME =
  /\b(?:yesterday|today|tomorrow|tonight|weekend|ago|(?:last|next|this) (?:week|month|year|summer|winter|spring|fall|night|time))\b/gi;

/** "Melanie: ..." or "Dr. Ana Lopes: ...": up to three capitalized words, then a colon. */
const SPEAKER_PREFIX = /^(\p{Lu}[\p{L}'.-]*(?: \p{Lu}[\p{L}'.-]*){0,2}):\s+/u;

/** Splits a leading "Name:" speaker off a turn's or a fact's text. */
export function splitSpeaker(text: string): { speaker: string | null; body: string } {
  const m = SPEAKER_PREFIX.exec(text);
  return m ? { speaker: m[1]!, body: text.slice(m[0].length) } : { speaker: null, body: text };
}

const WORD = /[\p{L}\p{N}]+(?:['’.,:/-][\p{L}\p{N}]+)*/gu;

/** Words in order, numbers kept whole, contractions cut ("that's" → "that"; "don't" → "", a function word). */
export function wordsOf(text: string): string[] {
  return (text.match(WORD) ?? []).map((w) =>
    /\d/.test(w) ? w : /n['’]t$/i.test(w) ? '' : w.replace(/['’](?:s|re|ve|ll|d|m)$/i, ''),
  );
}

export interface Analysis {
  /** distinct stemmed content terms (numbers included: "plan 2" is not "plan 3") */
  terms: string[];
  /** distinct capitalized words not at the sentence start, not "I", not a speaker, not a month */
  names: number;
  numbers: number;
  /** month and weekday names, relative times */
  dates: number;
}

/** Analyzes one sentence (without its speaker prefix). `speakers`: lowercased names to ignore. */
export function analyze(sentence: string, speakers: ReadonlySet<string> = new Set()): Analysis {
  const words = wordsOf(sentence);
  const terms = new Set<string>();
  const names = new Set<string>();
  const numbers = new Set<string>();
  let dates = (sentence.match(RELATIVE_TIME) ?? []).length;
  words.forEach((word, i) => {
    const lower = word.toLowerCase();
    if (isSpeaker(word, lower, speakers)) return; // addressing someone ("Thanks, Mel!") says nothing new
    if (/\d/.test(word)) {
      numbers.add(word);
      terms.add(lower);
      return;
    }
    if (CALENDAR.has(lower) && (lower !== 'may' || nextToNumber(words, i))) {
      dates++;
      terms.add(lower);
      return;
    }
    if (lower.length < 2 || isStopWord(lower) || CHAT_FILLER.has(lower)) return;
    if (i > 0 && /^\p{Lu}/u.test(word)) names.add(lower);
    terms.add(stem(lower));
  });
  return { terms: [...terms].sort(), names: names.size, numbers: numbers.size, dates };
}

/** A speaker's name, or a capitalized short form of one ("Mel" for Melanie). */
function isSpeaker(word: string, lower: string, speakers: ReadonlySet<string>): boolean {
  if (speakers.has(lower)) return true;
  if (lower.length < 3 || !/^\p{Lu}/u.test(word)) return false;
  for (const s of speakers) if (s.startsWith(lower)) return true;
  return false;
}

const nextToNumber = (words: string[], i: number) =>
  /\d/.test(words[i + 1] ?? '') || /\d/.test(words[i - 1] ?? '');

/** Says something: two content terms, or one next to a name, number or date. */
export function isContentBearing(a: Analysis): boolean {
  return a.terms.length >= 2 || (a.terms.length === 1 && a.names + a.numbers + a.dates > 0);
}

export function splitSentences(content: string): string[] {
  return content
    .split(/(?<=[.!?])\s+|\n+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 3);
}
