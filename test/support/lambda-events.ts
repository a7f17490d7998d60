import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { lambdaContext } from '../../local/server';

type Handler = (event: never, context: never) => Promise<unknown>;

export interface HttpCall {
  routeKey: string;
  tenantId: string;
  params?: Record<string, string>;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** sent as is: a string is the raw body, anything else is JSON.stringify'd */
  body?: unknown;
  isBase64Encoded?: boolean;
}

/** An HTTP API (payload 2.0) event as API Gateway sends it after the authorizer let it through. */
export function httpEvent(call: HttpCall): APIGatewayProxyEventV2 {
  const body =
    call.body === undefined || typeof call.body === 'string' ? call.body : JSON.stringify(call.body);
  return {
    version: '2.0',
    routeKey: call.routeKey,
    rawPath: call.routeKey.split(' ')[1]!,
    rawQueryString: new URLSearchParams(call.query ?? {}).toString(),
    headers: { 'content-type': 'application/json', ...call.headers },
    queryStringParameters: call.query,
    pathParameters: call.params,
    body,
    isBase64Encoded: call.isBase64Encoded ?? false,
    requestContext: {
      requestId: randomUUID(),
      routeKey: call.routeKey,
      authorizer: { lambda: { tenantId: call.tenantId } },
    },
  } as unknown as APIGatewayProxyEventV2;
}

/** Invokes a handler module in-process; the body comes back parsed. */
export async function invoke(handler: Handler, call: HttpCall) {
  const res = (await handler(
    httpEvent(call) as never,
    lambdaContext('test') as never,
  )) as APIGatewayProxyStructuredResultV2;
  const text = typeof res.body === 'string' ? res.body : '';
  return {
    status: res.statusCode ?? 200,
    headers: (res.headers ?? {}) as Record<string, string>,
    body: text ? JSON.parse(text) : undefined,
  };
}
