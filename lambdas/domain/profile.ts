import { z } from 'zod';
import type { TokenCounter } from './tokens';

/**
 * A user profile: structured attributes only (a flat map of bounded scalars and short string lists),
 * never free-form blobs, so what reaches a prompt is exactly the allow-listed attributes. Each
 * attribute's rendered line and its token count are computed once, at write time.
 */

export const profileLimits = {
  maxAttributes: 100,
  /** all attributes as JSON: the item also keeps each rendered line, so this keeps it far under 400 KB */
  maxTotalBytes: 64 * 1024,
  maxStringLength: 1024,
  maxListItems: 32,
  maxListItemLength: 256,
} as const;

export type ProfileValue = string | number | boolean | string[];

export interface ProfileLine {
  text: string;
  tokens: number;
}

export interface Profile {
  userId: string;
  version: number;
  attributes: Record<string, ProfileValue>;
  /** per attribute: the line the prompt shows and its tokens */
  lines: Record<string, ProfileLine>;
  updatedAt: string;
}

export const attributeNameSchema = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, 'a letter, then letters, digits, _ . - (at most 64)');

export const profileValueSchema = z.union([
  z.string().max(profileLimits.maxStringLength),
  // What DynamoDB and the SDK's marshaller accept without loss: no unsafe integers, no denormal dust.
  z.number().refine((n) => Math.abs(n) <= Number.MAX_SAFE_INTEGER && (n === 0 || Math.abs(n) >= 1e-100), {
    message: `numbers must be 0 or between 1e-100 and ${Number.MAX_SAFE_INTEGER} in magnitude`,
  }),
  z.boolean(),
  z.array(z.string().max(profileLimits.maxListItemLength)).max(profileLimits.maxListItems),
]);

export const profileAttributesSchema = z
  .record(attributeNameSchema, profileValueSchema)
  .refine((attrs) => Object.keys(attrs).length <= profileLimits.maxAttributes, {
    message: `at most ${profileLimits.maxAttributes} attributes`,
  })
  .refine((attrs) => Buffer.byteLength(JSON.stringify(attrs)) <= profileLimits.maxTotalBytes, {
    message: `at most ${profileLimits.maxTotalBytes} bytes of attributes in all`,
  });

export const profilePutSchema = z.strictObject({
  // The new version (expected + 1) must still be a safe integer: DynamoDB's marshaller refuses others.
  expectedVersion: z
    .number()
    .int()
    .min(0)
    .max(Number.MAX_SAFE_INTEGER - 1),
  attributes: profileAttributesSchema,
});

/** How an attribute reads in a prompt: `name: value`, lists comma-separated. */
export function renderAttribute(name: string, value: ProfileValue): string {
  return `${name}: ${Array.isArray(value) ? value.join(', ') : String(value)}`;
}

export function renderLines(attributes: Record<string, ProfileValue>, tokens: TokenCounter) {
  const lines: Record<string, ProfileLine> = {};
  for (const name of Object.keys(attributes).sort()) {
    const text = renderAttribute(name, attributes[name]!);
    lines[name] = { text, tokens: tokens.count(text) };
  }
  return lines;
}

export interface ProfileSliceItem {
  name: string;
  value: ProfileValue;
  text: string;
  tokens: number;
}

/** Only the allow-listed attributes the profile has, sorted by name (stable for the fingerprint). */
export function profileSlice(profile: Profile, allow: string[]): ProfileSliceItem[] {
  const allowed = new Set(allow);
  return Object.keys(profile.attributes)
    .filter((name) => allowed.has(name))
    .sort()
    .map((name) => {
      const value = profile.attributes[name]!;
      const line = profile.lines[name] ?? { text: renderAttribute(name, value), tokens: 0 };
      return { name, value, text: line.text, tokens: line.tokens };
    });
}
