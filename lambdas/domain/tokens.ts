import type { Tiktoken } from 'tiktoken';

/** The one interface everything that counts tokens goes through. */
export interface TokenCounter {
  count(text: string): number;
}

let encoder: Tiktoken | undefined;

/**
 * BPE merging is quadratic in the length of a run without spaces (measured: 20,000 × 'a' took 1 s,
 * 100,000 took 9 s, and it blocks the process). Text is counted in pieces of at most PIECE characters,
 * cut before a space where there is one, so work grows linearly. The pretokenizer splits before
 * spaces anyway, so ordinary text counts the same; a run longer than PIECE is counted as cut, which
 * can differ from the whole run by a token or so per cut.
 */
const PIECE = 128;

export function* pieces(text: string): Generator<string> {
  let start = 0;
  while (start < text.length) {
    let end = Math.min(start + PIECE, text.length);
    if (end < text.length) {
      const space = text.lastIndexOf(' ', end);
      if (space > start + PIECE / 2) end = space;
      // Never split a surrogate pair.
      else if (/[\uD800-\uDBFF]/.test(text[end - 1]!)) end--;
    }
    yield text.slice(start, end);
    start = end;
  }
}

/**
 * o200k_base via tiktoken (WASM). One encoder per process, created on first use and reused: creating
 * one per call without free() leaks WASM memory, and initialisation costs ~200 ms, which we pay only
 * on the paths that tokenize (turn writes, the context request's input), not on every cold start.
 */
export const tiktokenCounter: TokenCounter = {
  count(text) {
    if (!encoder) {
      const { get_encoding } = require('tiktoken') as typeof import('tiktoken');
      encoder = get_encoding('o200k_base');
    }
    let n = 0;
    for (const piece of pieces(text)) n += encoder.encode_ordinary(piece).length;
    return n;
  },
};
