import { get_encoding } from 'tiktoken';
import { describe, expect, it } from 'vitest';
import { pieces, tiktokenCounter } from '../../lambdas/domain/tokens';

describe('tiktokenCounter', () => {
  it('counts in bounded pieces that rebuild the text exactly, surrogate pairs whole', () => {
    const text = `${'a'.repeat(1000)} ${'🙂'.repeat(300)} word `.repeat(3);
    const parts = [...pieces(text)];
    expect(parts.join('')).toBe(text);
    expect(Math.max(...parts.map((p) => p.length))).toBeLessThanOrEqual(128);
    for (const p of parts) expect(p).not.toMatch(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/);
  });

  it('counts ordinary prose exactly as one whole encoding does', () => {
    const whole = get_encoding('o200k_base');
    try {
      const prose =
        'Caroline: I went to the LGBTQ support group on 7 May 2023, and it was so powerful!\n\n' +
        'Melanie: That sounds amazing —   I painted a sunrise last week.  Want to see it? ';
      const text = prose.repeat(40);
      expect(tiktokenCounter.count(text)).toBe(whole.encode_ordinary(text).length);
    } finally {
      whole.free();
    }
  });
});
