import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from './canonical-json';
import { IdempotencyKeyReusedError } from './errors';

/**
 * Safe retries of an append: a request with an Idempotency-Key leaves a receipt (the hash of its body
 * and its answer), written in the append's own transaction. A retry with the same key finds it and
 * gets the original answer instead of a version conflict; the same key with another body is refused.
 */

/** How long a receipt answers retries (DynamoDB's TTL deletes it later; reads ignore it after this). */
export const APPEND_RECEIPT_TTL_SECONDS = 24 * 3600;

export const idempotencyKeySchema = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/, '1 to 255 printable ASCII characters, no spaces');

export interface AppendAnswer {
  version: number;
  tokens: number;
  lastSeq: number;
}

export interface AppendReceipt {
  bodyHash: string;
  answer: AppendAnswer;
  /** epoch seconds (DynamoDB TTL) */
  expiresAt: number;
}

/** The same body, whatever its key order or spacing, hashes the same. */
export const bodyHashOf = (body: unknown) => createHash('sha256').update(canonicalJson(body)).digest('hex');

/** The original answer for a retry, or IdempotencyKeyReusedError if the key came with another body. */
export function replayOf(receipt: AppendReceipt, bodyHash: string, key: string): AppendAnswer {
  if (receipt.bodyHash !== bodyHash) {
    throw new IdempotencyKeyReusedError(key, `Idempotency-Key '${key}' was used for another append body`);
  }
  return receipt.answer;
}
