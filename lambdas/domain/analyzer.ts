import { eng } from 'stopword';
import stem from 'wink-porter2-stemmer';

/**
 * Text to index terms, shared by everything that ranks text (recall over turns): NFKD with accents
 * dropped, lowercased, split on anything that is not a letter or digit, English stop words removed
 * (the `stopword` library's list), Porter2-stemmed (`wink-porter2-stemmer`), cut to MAX_TERM_LENGTH.
 * Numbers are kept as they are: "2019" and "#123" carry the content a question asks for.
 */
export const MAX_TERM_LENGTH = 32;

/** The library's English list lacks a few forms of "do" that questions are full of ("where does she
 * live?"); stemmed to "doe" and "do", they matched every turn that said them. */
const STOP_WORDS = new Set([...eng, 'does', 'doing', 'doesn']);

/** Whether a lowercased word is an English stop word (the `stopword` library's list). */
export const isStopWord = (word: string): boolean => STOP_WORDS.has(word);

/** Porter2 stem of one lowercased word. */
export { stem };

export function analyze(text: string): string[] {
  const words = text
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u);
  const out: string[] = [];
  for (const word of words) {
    if (!word || STOP_WORDS.has(word) || (word.length < 2 && !/\d/.test(word))) continue;
    out.push((/^\p{N}+$/u.test(word) ? word : stem(word)).slice(0, MAX_TERM_LENGTH));
  }
  return out;
}

/** Term frequencies of a text's terms. */
export function termFrequencies(terms: string[]): Map<string, number> {
  const tf = new Map<string, number>();
  for (const t of terms) tf.set(t, (tf.get(t) ?? 0) + 1);
  return tf;
}
