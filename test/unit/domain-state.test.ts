import { describe, expect, it } from 'vitest';
import { cacheDigest, normalizeQuestion, staleReason } from '../../lambdas/domain/cache';
import {
  type Profile,
  profileAttributesSchema,
  profileSlice,
  renderLines,
} from '../../lambdas/domain/profile';

const now = new Date('2026-11-24T12:00:00Z');

describe('normalizeQuestion', () => {
  it('lowercases, trims, collapses whitespace and strips trailing punctuation', () => {
    expect(normalizeQuestion('  What is   the\tRefund window?!  ')).toBe('what is the refund window');
    expect(normalizeQuestion('What is the refund window')).toBe('what is the refund window');
    expect(normalizeQuestion('e.g. v1.2 ...')).toBe('e.g. v1.2');
    expect(normalizeQuestion('?!')).toBe('');
  });

  it('keys by normalized question and fingerprint', () => {
    const a = cacheDigest(normalizeQuestion('Refund?'), 'fp1');
    expect(cacheDigest(normalizeQuestion(' refund '), 'fp1')).toBe(a);
    expect(cacheDigest(normalizeQuestion('refund'), 'fp2')).not.toBe(a);
  });

  it('treats expired entries and moved sessions as stale', () => {
    const entry = { question: 'q', fingerprint: 'f', answer: 'a', createdAt: '', expiresAt: 100 };
    expect(staleReason(entry, 99)).toBeNull();
    expect(staleReason(entry, 100)).toBe('expired');
    const tied = { ...entry, sessionId: 's', sessionStamp: '3.0' };
    expect(staleReason(tied, 50, '3.0')).toBeNull();
    expect(staleReason(tied, 50, '4.0')).toBe('session_changed');
    expect(staleReason(tied, 50, '3.7')).toBe('session_changed'); // a summary rewrite, same version
  });
});

describe('profiles', () => {
  const counter = { count: (s: string) => s.split(' ').length };

  it('accepts flat scalars and string lists only', () => {
    expect(
      profileAttributesSchema.safeParse({ tier: 'pro', seats: 3, beta: true, langs: ['en'] }).success,
    ).toBe(true);
    expect(profileAttributesSchema.safeParse({ nested: { a: 1 } }).success).toBe(false);
    expect(profileAttributesSchema.safeParse({ '1bad': 'x' }).success).toBe(false);
    expect(profileAttributesSchema.safeParse({ long: 'x'.repeat(1025) }).success).toBe(false);
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`a${i}`, i]));
    expect(profileAttributesSchema.safeParse(many).success).toBe(false);
  });

  it('refuses numbers DynamoDB cannot store exactly, and profiles too big for one item', () => {
    expect(profileAttributesSchema.safeParse({ n: 1e16 }).success).toBe(false);
    expect(profileAttributesSchema.safeParse({ n: 1e-200 }).success).toBe(false);
    expect(profileAttributesSchema.safeParse({ n: -2.5, z: 0, max: Number.MAX_SAFE_INTEGER }).success).toBe(
      true,
    );
    const list = Array.from({ length: 32 }, () => 'x'.repeat(256));
    const huge = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`a${i}`, list]));
    expect(profileAttributesSchema.safeParse(huge).success).toBe(false);
  });

  it('slices only allow-listed attributes, sorted, with their stored lines', () => {
    const attributes = { tier: 'pro', langs: ['en', 'de'], email: 'x@y.z', seats: 3 };
    const profile: Profile = {
      userId: 'u1',
      version: 1,
      attributes,
      lines: renderLines(attributes, counter),
      updatedAt: now.toISOString(),
    };
    const slice = profileSlice(profile, ['tier', 'seats', 'langs', 'missing']);
    expect(slice.map((s) => s.name)).toEqual(['langs', 'seats', 'tier']);
    expect(slice[0]).toEqual({ name: 'langs', value: ['en', 'de'], text: 'langs: en, de', tokens: 3 });
    expect(profileSlice(profile, [])).toEqual([]);
  });
});
