import { randomUUID } from 'node:crypto';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { AppError, PayloadTooLargeError, UnauthorizedError, ValidationError } from '../domain/errors';
import type { AuthorizerContext } from '../handlers/authorizer';
import type { TenantStore } from '../stores/tenant-store';
import { checkJsonInput, checkWellFormed } from './json-input';
import { logger, metrics } from './observability';

/** Bodies above this are refused with 413 before parsing. */
export const MAX_BODY_BYTES = 256 * 1024;

export interface ApiRequest {
  routeKey: string;
  tenantId: string;
  correlationId: string;
  params: Record<string, string>;
  query: Record<string, string | undefined>;
  headers: Record<string, string | undefined>;
  body: unknown;
}

export interface ApiReply {
  status?: number;
  body: unknown;
  headers?: Record<string, string>;
}

export type RouteHandler = (req: ApiRequest) => Promise<ApiReply>;

type HttpEvent = APIGatewayProxyEventV2 & {
  requestContext: APIGatewayProxyEventV2['requestContext'] & {
    authorizer?: { lambda?: Partial<AuthorizerContext> };
  };
};
type Result = APIGatewayProxyStructuredResultV2;

interface Options {
  /** routes that need no tenant (health) */
  public?: boolean;
}

/**
 * The one middy stack every HTTP handler uses: correlation id, tenant from the authorizer, body size
 * and JSON parsing, named errors mapped to the one error shape, logs and metrics. Handlers are plain
 * functions from ApiRequest to ApiReply, dispatched by API Gateway's routeKey.
 */
export function httpApi(routes: Record<string, RouteHandler>, options: Options = {}) {
  const core = async (event: HttpEvent, _context: Context): Promise<Result> => {
    const route = routes[event.routeKey];
    if (!route) throw new AppError(404, 'route_not_found', `no route for ${event.routeKey}`);
    const tenantId = options.public ? '' : await tenantOf(event);
    if (!options.public && !tenantId) throw new UnauthorizedError();
    logger.appendKeys({ tenantId, route: event.routeKey });
    const params = (event.pathParameters ?? {}) as Record<string, string>;
    const query = event.queryStringParameters ?? {};
    checkWellFormed(params);
    checkWellFormed(query);
    const reply = await route({
      routeKey: event.routeKey,
      tenantId,
      correlationId: correlationIdOf(event),
      params,
      query,
      headers: event.headers ?? {},
      body: parseBody(event),
    });
    return {
      statusCode: reply.status ?? 200,
      headers: { 'content-type': 'application/json', ...reply.headers },
      body: JSON.stringify(reply.body),
    };
  };

  return middy<HttpEvent, Result>(core)
    .use(httpBoundary())
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics));
}

/** Correlation id in and out, and errors to the one shape. Registered first, so its onError runs last. */
function httpBoundary(): middy.MiddlewareObj<HttpEvent, Result> {
  const withCorrelation = (event: HttpEvent, response: Result): Result => ({
    ...response,
    headers: { ...response.headers, 'x-correlation-id': correlationIdOf(event) },
  });
  return {
    before: async ({ event }) => {
      event.headers = event.headers ?? {};
      event.headers['x-correlation-id'] = correlationIdOf(event);
      logger.appendKeys({ correlationId: event.headers['x-correlation-id'] });
    },
    after: async (request) => {
      if (request.response) request.response = withCorrelation(request.event, request.response);
    },
    onError: async (request) => {
      const err = request.error;
      const appError =
        err instanceof AppError ? err : new AppError(500, 'internal_error', 'internal error, see logs');
      if (appError.status >= 500) logger.error('request failed', { error: err as Error });
      metrics.addMetric(`http_${appError.status >= 500 ? '5xx' : '4xx'}`, MetricUnit.Count, 1);
      request.response = withCorrelation(request.event, {
        statusCode: appError.status,
        headers: { 'content-type': 'application/json', ...appError.headers },
        body: JSON.stringify({
          error: { code: appError.code, message: appError.message, details: appError.details ?? {} },
        }),
      });
    },
  };
}

let tenants: TenantStore | undefined;

/** The authorizer's tenant; if it could not reach the tenants table, the key is looked up here. */
async function tenantOf(event: HttpEvent): Promise<string> {
  const auth = event.requestContext.authorizer?.lambda;
  if (auth?.tenantId || !auth?.unresolved) return auth?.tenantId ?? '';
  // Loaded on first need: a function that never meets such a request (or has no tenant) never loads
  // the store and its AWS SDK clients at cold start.
  if (!tenants) tenants = new (await import('../stores/tenant-store.js')).TenantStore();
  return (await tenants.tenantOfHeader(event.headers)) ?? '';
}

function correlationIdOf(event: HttpEvent): string {
  const given = event.headers?.['x-correlation-id'];
  return given && /^[\w.:-]{1,128}$/.test(given) ? given : (event.requestContext?.requestId ?? randomUUID());
}

function parseBody(event: HttpEvent): unknown {
  if (!event.body) return undefined;
  const raw = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
  if (raw.length > MAX_BODY_BYTES) throw new PayloadTooLargeError(MAX_BODY_BYTES, raw.length);
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ValidationError([{ path: '(body)', message: 'body is not valid JSON' }]);
  }
  checkJsonInput(body);
  return body;
}
