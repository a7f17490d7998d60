/**
 * The one place that builds DynamoDB keys. Every partition key starts with the tenant, so no query
 * built here can reach another tenant's items; ids are validated (see domain/ids.ts) to exclude '#'.
 */
const t = (tenantId: string) => `T#${tenantId}`;

export const keys = {
  /** sessions table: one item per session. */
  session: (tenantId: string, sessionId: string) => ({ pk: `${t(tenantId)}#S#${sessionId}` }),
  /** events table: the session's append-only log, sorted by seq. */
  events: (tenantId: string, sessionId: string) => ({ pk: `${t(tenantId)}#S#${sessionId}` }),
  event: (tenantId: string, sessionId: string, seq: number) => ({ pk: `${t(tenantId)}#S#${sessionId}`, seq }),
  /** idempotency table: one record per tool call (tenant + session + step + tool). */
  toolCall: (tenantId: string, sessionId: string, stepIndex: number, toolName: string) => ({
    pk: `${t(tenantId)}#S#${sessionId}#STEP#${stepIndex}#TOOL#${toolName}`,
  }),
  /** tenants table: looked up by the hash of an API key; the key itself is never stored. */
  apiKey: (keyHash: string) => ({ pk: `KEY#${keyHash}` }),
  tenant: (tenantId: string) => ({ pk: `${t(tenantId)}#TENANT` }),
} as const;
