import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
} from 'aws-lambda';
import { logger } from '../http/observability';
import { apiKeyPattern, TenantStore } from '../stores/tenant-store';

export const deps: { tenants?: TenantStore } = {};

/**
 * HTTP API Lambda authorizer (simple responses): `Authorization: Bearer <key>` → tenant. API Gateway
 * caches the answer per key, so a warm path costs no DynamoDB read. A missing header never gets here
 * (API Gateway answers 401); an unknown key is denied (API Gateway answers 403).
 */
export async function handler(
  event: APIGatewayRequestAuthorizerEventV2,
): Promise<APIGatewaySimpleAuthorizerWithContextResult<{ tenantId: string }>> {
  const header = event.headers?.authorization ?? event.headers?.Authorization ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match?.[1] || !apiKeyPattern.test(match[1])) return deny;
  deps.tenants ??= new TenantStore();
  try {
    const tenantId = await deps.tenants.tenantOfKey(match[1]);
    return tenantId ? { isAuthorized: true, context: { tenantId } } : deny;
  } catch (error) {
    logger.error('tenant lookup failed', { error: error as Error });
    throw error;
  }
}

const deny = { isAuthorized: false, context: { tenantId: '' } };
