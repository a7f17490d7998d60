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
} as const;

export type EnvKey = keyof typeof envNames;

export function env(key: EnvKey): string {
  const value = process.env[envNames[key]];
  if (!value) throw new Error(`environment variable ${envNames[key]} is not set`);
  return value;
}

export function envInt(key: EnvKey, fallback: number): number {
  const raw = process.env[envNames[key]];
  const n = raw ? Number.parseInt(raw, 10) : Number.NaN;
  return Number.isFinite(n) && n > 0 ? n : fallback;
}
