/**
 * Resource names and settings come from the environment: the construct sets them on each function,
 * the local runtime sets them from the same synthesized template. Read lazily so a handler that never
 * touches a store does not need its variable.
 */
export const envNames = {
  sessionsTable: 'CP_SESSIONS_TABLE',
  eventsTable: 'CP_EVENTS_TABLE',
  idempotencyTable: 'CP_IDEMPOTENCY_TABLE',
  tenantsTable: 'CP_TENANTS_TABLE',
  summaryQueueUrl: 'CP_SUMMARY_QUEUE_URL',
  policyPrefix: 'CP_POLICY_PREFIX',
  sessionTtlSeconds: 'CP_SESSION_TTL_SECONDS',
  eventRetentionSeconds: 'CP_EVENT_RETENTION_SECONDS',
  factsTable: 'CP_FACTS_TABLE',
  profilesTable: 'CP_PROFILES_TABLE',
  cacheTable: 'CP_CACHE_TABLE',
  recallTable: 'CP_RECALL_TABLE',
  /** tombstones, ownership listings (user -> sessions, session -> owned items), deletion records */
  registryTable: 'CP_REGISTRY_TABLE',
  deletionQueueUrl: 'CP_DELETION_QUEUE_URL',
  /** a deletion sweeps once more after this long: every write begun before it started has landed */
  deletionGraceSeconds: 'CP_DELETION_GRACE_SECONDS',
  /** the context builder's deadline per store read (a late store is left out, reported as degraded) */
  storeDeadlineMs: 'CP_STORE_DEADLINE_MS',
  /** every store call (DynamoDB, SSM, SQS) is cancelled past this, then answers 503 */
  storeCallDeadlineMs: 'CP_STORE_CALL_DEADLINE_MS',
  /** how long a policy label (or latest) stays resolved in a warm Lambda */
  policyLabelTtlMs: 'CP_POLICY_LABEL_TTL_MS',
  /** a tool call's lock outlives the tool's timeout by this much (tests shorten it) */
  toolLockMarginMs: 'CP_TOOL_LOCK_MARGIN_MS',
} as const;

export type EnvKey = keyof typeof envNames;

/** Every table that holds a tenant's data, by its environment key (the tenants table, which holds
 * their keys, is not one): what a deletion may touch and what the CLI's tenant delete empties. */
export const dataTables: EnvKey[] = [
  'sessionsTable',
  'eventsTable',
  'idempotencyTable',
  'factsTable',
  'profilesTable',
  'cacheTable',
  'recallTable',
  'registryTable',
];

export function env(key: EnvKey): string {
  const value = process.env[envNames[key]];
  if (!value) throw new Error(`environment variable ${envNames[key]} is not set`);
  return value;
}

/** An integer setting, or `fallback` when it is unset, malformed or below `min`. */
export function envInt(key: EnvKey, fallback: number, min = 1): number {
  const raw = process.env[envNames[key]];
  const n = raw ? Number.parseInt(raw, 10) : Number.NaN;
  return Number.isFinite(n) && n >= min ? n : fallback;
}
