import { createHash } from 'node:crypto';
import type { FactKind } from './engine';

/**
 * Stable fact keys: `<kind>:<slug of the normalized subject>`. The same subject said again (even
 * worded a little differently: case, punctuation, filler words) gets the same key, so the newer
 * statement replaces the older one instead of sitting next to it.
 */

const STOPWORDS = new Set(
  (
    'a an the and or but of to in on at for from with by about into over under as is are was were be been ' +
    'being this that these those it its my our your their his her we you they i me us them so than then ' +
    'there here very really just also now still will would shall should can could may might must do does ' +
    'did have has had not no yes please thanks thank okay ok well going go use using'
  ).split(' '),
);

const MAX_SLUG = 48;

/** Lowercase words without punctuation or stopwords (digits kept: "plan 2" is not "plan 3"). */
export function contentWords(text: string): string[] {
  return text
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9\s]/g, ' ')
    .split(/\s+/)
    .filter((w) => w && !STOPWORDS.has(w));
}

export function slugOf(text: string, maxWords = 3): string {
  const slug = contentWords(text).slice(0, maxWords).join('-');
  if (!slug) return hashOf(text);
  return slug.length <= MAX_SLUG ? slug : `${slug.slice(0, MAX_SLUG - 9)}-${hashOf(slug)}`;
}

export const factKey = (kind: FactKind, subject: string, maxWords = 3) =>
  `${kind}:${slugOf(subject, maxWords)}`;

function hashOf(text: string): string {
  return createHash('sha256').update(text.trim().toLowerCase()).digest('hex').slice(0, 8);
}
