import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import type { Caps } from './context';

/**
 * The state fingerprint: what an answer cached under (normalized question, fingerprint) depends on.
 * It covers state, not the question: the question is the other half of the cache key. Any change of
 * session, retrieved facts, profile, policy or budget changes it; so does a change of how we render
 * (FORMAT), since the same state would then give other messages.
 */
export const FINGERPRINT_FORMAT = 2;

export interface FingerprintInput {
  tenantId: string;
  sessionId: string;
  /** 0 when the session does not exist yet; null when its store was degraded */
  sessionVersion: number | null;
  /** the summarizer rewrites the summary without bumping the session version: its watermark says which */
  summaryWatermark: number | null;
  /** retrieved facts, in retrieval order */
  facts: { id: string; version: number }[] | null;
  /** recalled turns (`sessionId#seq`, immutable once appended), best first; null when degraded */
  recall: string[] | null;
  userId: string | null;
  profileVersion: number | null;
  policy: { route: string; version: number };
  budget: Caps;
  degraded: string[];
  /** set when a store was degraded: a context built on partial state gets a one-off fingerprint,
   * so an answer cached for it can never be served again */
  nonce?: string;
}

/** sha256 (hex) of the canonical JSON of the state a context was built from. */
export function fingerprintOf(input: FingerprintInput): string {
  const canonical = canonicalJson({
    format: FINGERPRINT_FORMAT,
    ...input,
    facts: input.facts?.map((f) => [f.id, f.version]) ?? null,
  });
  return createHash('sha256').update(canonical).digest('hex');
}
