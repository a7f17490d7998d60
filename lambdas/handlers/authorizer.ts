import type {
  APIGatewayRequestAuthorizerEventV2,
  APIGatewaySimpleAuthorizerWithContextResult,
} from 'aws-lambda';
import { StoreUnavailableError } from '../domain/errors';
import { logger } from '../http/observability';
import { TenantStore } from '../stores/tenant-store';

export const deps: { tenants?: TenantStore } = {};

/** What the authorizer tells the function: the tenant, or that the key is still to be looked up. */
export interface AuthorizerContext {
  tenantId: string;
  /** the tenants table was unavailable: the function looks the key up itself (see httpApi) */
  unresolved?: boolean;
}

/**
 * HTTP API Lambda authorizer (simple responses): `Authorization: Bearer <key>` → tenant. API Gateway
 * caches the answer per key, so a warm path costs no DynamoDB read. A missing header never gets here
 * (API Gateway answers 401); an unknown key is denied (API Gateway answers 403).
 *
 * With the tenants table unavailable there is no right answer to cache: a thrown error is API
 * Gateway's 500, and a deny would lock a valid key out for the cache's 5 minutes. So the request goes
 * on, unresolved, and the function resolves the key itself: 503 store_unavailable while the store is
 * down, the tenant as soon as it is back, 401 for a key that is not one.
 */
export async function handler(
  event: APIGatewayRequestAuthorizerEventV2,
): Promise<APIGatewaySimpleAuthorizerWithContextResult<AuthorizerContext>> {
  deps.tenants ??= new TenantStore();
  try {
    const tenantId = await deps.tenants.tenantOfHeader(event.headers);
    return tenantId ? { isAuthorized: true, context: { tenantId } } : deny;
  } catch (error) {
    logger.error('tenant lookup failed', { error: error as Error });
    if (error instanceof StoreUnavailableError) {
      return { isAuthorized: true, context: { tenantId: '', unresolved: true } };
    }
    throw error;
  }
}

const deny = { isAuthorized: false, context: { tenantId: '' } };
