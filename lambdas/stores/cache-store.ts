import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { env } from '../config';
import {
  type CacheEntry,
  type CacheEntryInput,
  cacheDigest,
  cacheLimits,
  normalizeQuestion,
  staleReason,
} from '../domain/cache';
import { StaleAnswerError } from '../domain/errors';
import { sessionStamp as stampOf } from '../domain/session';
import { metrics } from '../http/observability';
import { dynamo } from './clients';
import { keys } from './keys';
import { Registry } from './registry';
import { SessionStore } from './session-store';

/**
 * The output cache: answers under (normalized question, fingerprint), per tenant, with a TTL. An
 * entry stored with a sessionId remembers that session's content stamp (turns and summary) and is a
 * miss once it moved; an expired entry is a miss even while DynamoDB has not yet deleted it.
 */
export class CacheStore {
  constructor(
    private readonly table = env('cacheTable'),
    private readonly sessions: Pick<SessionStore, 'get'> = new SessionStore(),
    private readonly db: DynamoDBDocumentClient = dynamo(),
    private readonly registry: Registry | null = Registry.fromEnv(),
  ) {}

  async put(tenantId: string, input: CacheEntryInput): Promise<CacheEntry> {
    const question = normalizeQuestion(input.question);
    const now = new Date();
    let sessionStamp: string | undefined;
    if (input.sessionId !== undefined) {
      // Not for a session being deleted (404 before any other answer about it): both reads at once,
      // the tombstone's verdict first.
      const [, state] = await Promise.all([
        this.registry?.assertLive(tenantId, 'session', input.sessionId),
        this.sessions.get({ tenantId, sessionId: input.sessionId }),
      ]);
      sessionStamp = input.sessionStamp;
      const current = stampOf(state);
      // Refused rather than stored: it could never be served (get() compares the stamps again, so a
      // session that moves after this check still makes the entry a miss).
      if (current !== sessionStamp) throw new StaleAnswerError(input.sessionId, sessionStamp ?? '', current);
    }
    const entry: CacheEntry = {
      question,
      fingerprint: input.fingerprint,
      answer: input.answer,
      ...(input.sessionId !== undefined ? { sessionId: input.sessionId, sessionStamp } : {}),
      createdAt: now.toISOString(),
      expiresAt: Math.floor(now.getTime() / 1000) + (input.ttlSeconds ?? cacheLimits.defaultTtlSeconds),
    };
    const digest = cacheDigest(question, input.fingerprint);
    if (input.sessionId !== undefined && this.registry) {
      // Listed under the session before it exists, so the session's deletion finds it.
      await this.registry.putOwned(tenantId, input.sessionId, 'C', digest, { expiresAt: entry.expiresAt });
    }
    await this.db.send(
      new PutCommand({
        TableName: this.table,
        // The answer is stored as JSON text: any JSON the client sent round-trips, whatever its numbers
        // or depth (a DynamoDB map refuses unsafe integers and nesting past 32 levels).
        Item: {
          ...keys.cacheEntry(tenantId, digest),
          ...entry,
          answer: JSON.stringify(entry.answer),
        },
      }),
    );
    return entry;
  }

  async get(tenantId: string, question: string, fingerprint: string): Promise<CacheEntry | null> {
    const normalized = normalizeQuestion(question);
    const out = await this.db.send(
      new GetCommand({
        TableName: this.table,
        Key: keys.cacheEntry(tenantId, cacheDigest(normalized, fingerprint)),
        ConsistentRead: true,
      }),
    );
    const entry = out.Item ? toEntry(out.Item) : null;
    const hit =
      entry !== null &&
      entry.question === normalized &&
      entry.fingerprint === fingerprint &&
      staleReason(entry, Date.now() / 1000, await this.currentStamp(tenantId, entry)) === null;
    metrics.addMetric(hit ? 'cache_hits' : 'cache_misses', MetricUnit.Count, 1);
    return hit ? entry : null;
  }

  private async currentStamp(tenantId: string, entry: CacheEntry): Promise<string | undefined> {
    if (entry.sessionId === undefined) return undefined;
    return stampOf(await this.sessions.get({ tenantId, sessionId: entry.sessionId }));
  }
}

function toEntry(item: Record<string, unknown>): CacheEntry {
  const { pk: _pk, answer, ...entry } = item;
  return { ...entry, answer: JSON.parse(String(answer)) } as unknown as CacheEntry;
}
