import type { Tiktoken } from 'tiktoken';

/** The one interface everything that counts tokens goes through. */
export interface TokenCounter {
  count(text: string): number;
}

let encoder: Tiktoken | undefined;

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
    return encoder.encode_ordinary(text).length;
  },
};
