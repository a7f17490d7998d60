import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import * as path from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { cors, entryOf, type RouteSpec, routes } from '../lambdas/routes';
import { inspectorAsset } from './inspector';

/**
 * The local API Gateway: turns each HTTP request into an HTTP API (payload 2.0) event and invokes the
 * same handler modules Lambda runs, the authorizer included, with API Gateway's own answers where it
 * answers itself (401 without a key, 403 for a denied one, 404 for no route, 413 past 10 MB, the CORS
 * preflight). Also serves the inspector page at /inspector.
 */

const API_GATEWAY_MAX_BODY = 10 * 1024 * 1024;
/** Same as the construct's authorizer cache: an answer per Authorization header for 5 minutes. */
const AUTHORIZER_CACHE_MS = 5 * 60 * 1000;
const ROOT = path.join(__dirname, '..');

type Handler = (event: unknown, context: Context) => Promise<unknown>;

const modules = new Map<string, Handler>();
function handlerOf(fn: string): Handler {
  let h = modules.get(fn);
  if (!h) {
    h = require(path.join(ROOT, entryOf(fn))).handler as Handler;
    modules.set(fn, h);
  }
  return h;
}

interface CompiledRoute extends RouteSpec {
  routeKey: string;
  pattern: RegExp;
  names: string[];
}

const compiled: CompiledRoute[] = routes.map((r) => {
  const names: string[] = [];
  const pattern = new RegExp(
    `^${r.path.replace(/\{(\w+)\}/g, (_, name: string) => {
      names.push(name);
      return '([^/]+)';
    })}$`,
  );
  return { ...r, routeKey: `${r.method} ${r.path}`, pattern, names };
});

/** A malformed escape (`%zz`, or bytes that are not UTF-8) stays as sent: the handler's schema refuses
 * it with a 400 naming the parameter, instead of the gateway failing with a 500. */
function decodeParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** The route and decoded path parameters a request path maps to, as API Gateway would (exported for tests). */
export function match(method: string, pathname: string) {
  for (const route of compiled) {
    if (route.method !== method) continue;
    const m = route.pattern.exec(pathname);
    if (m) {
      const params = Object.fromEntries(route.names.map((n, i) => [n, decodeParam(m[i + 1]!)]));
      return { route, params };
    }
  }
  return null;
}

export function lambdaContext(functionName: string): Context {
  const deadline = Date.now() + 15_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** Origins the local API allows (CORS), like the construct's `corsOrigins`: `CONTEXT_PLANE_CORS_ORIGINS`
 * (comma-separated, empty for none), else the construct's default. */
export function corsOriginsFromEnv(value = process.env.CONTEXT_PLANE_CORS_ORIGINS): string[] {
  if (value === undefined) return [...cors.defaultOrigins];
  return value
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
}

/** What API Gateway's CORS configuration adds: the preflight's answer (an OPTIONS with an allowed
 * origin), or the headers every other answer to an allowed origin carries. */
export function corsHeaders(
  allowed: readonly string[],
  origin: string | undefined,
  preflight: boolean,
): Record<string, string> {
  if (!origin || !(allowed.includes(origin) || allowed.includes('*'))) return {};
  const common = { 'access-control-allow-origin': allowed.includes('*') ? '*' : origin, vary: 'origin' };
  if (!preflight) return { ...common, 'access-control-expose-headers': cors.exposeHeaders.join(',') };
  return {
    ...common,
    'access-control-allow-methods': cors.allowMethods.join(','),
    'access-control-allow-headers': cors.allowHeaders.join(','),
    'access-control-max-age': String(cors.maxAgeSeconds),
  };
}

export function createApiServer(options: { corsOrigins?: string[] } = {}): http.Server {
  const corsOrigins = options.corsOrigins ?? corsOriginsFromEnv();
  type Answer = { isAuthorized: boolean; context?: Record<string, unknown> };
  const authorizerCache = new Map<string, { answer: Answer; until: number }>();

  /** The authorizer's context to pass on, or null for a deny; a thrown authorizer is a 500, as in AWS. */
  async function authorize(event: APIGatewayProxyEventV2): Promise<Record<string, unknown> | null> {
    const header = event.headers.authorization ?? '';
    const cached = authorizerCache.get(header);
    let answer = cached && cached.until > Date.now() ? cached.answer : undefined;
    if (!answer) {
      answer = (await handlerOf('authorizer')(
        { ...event, type: 'REQUEST', routeArn: `arn:local:${event.routeKey}`, identitySource: [header] },
        lambdaContext('authorizer'),
      )) as Answer;
      authorizerCache.set(header, { answer, until: Date.now() + AUTHORIZER_CACHE_MS });
    }
    return answer.isAuthorized ? (answer.context ?? {}) : null;
  }

  return http.createServer(async (req, res) => {
    const origin = req.headers.origin;
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        ...headers,
        ...corsHeaders(corsOrigins, origin, false),
      });
      res.end(typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
    };
    try {
      // A CORS preflight: answered before any route or key, as API Gateway does when CORS is configured.
      if (req.method === 'OPTIONS' && origin && req.headers['access-control-request-method']) {
        res.writeHead(204, corsHeaders(corsOrigins, origin, true));
        return res.end();
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > API_GATEWAY_MAX_BODY) return send(413, { message: 'Request Entity Too Large' });
        chunks.push(chunk as Buffer);
      }
      const url = new URL(req.url ?? '/', 'http://local');
      if (req.method === 'GET' || req.method === 'HEAD') {
        const asset = inspectorAsset(url.pathname);
        if (asset) return send(asset.status, req.method === 'HEAD' ? '' : asset.body, asset.headers);
      }
      const found = match(req.method ?? 'GET', url.pathname);
      if (!found) return send(404, { message: 'Not Found' });
      const event = toEvent(req, url, found.route, found.params, Buffer.concat(chunks));
      if (!found.route.public) {
        if (!event.headers.authorization) return send(401, { message: 'Unauthorized' });
        const context = await authorize(event);
        if (!context) return send(403, { message: 'Forbidden' });
        Object.assign(event.requestContext, { authorizer: { lambda: context } });
      }
      const result = (await handlerOf(found.route.fn)(
        event,
        lambdaContext(found.route.fn),
      )) as APIGatewayProxyStructuredResultV2;
      send(result.statusCode ?? 200, result.body ?? '', (result.headers ?? {}) as Record<string, string>);
    } catch (err) {
      // What API Gateway answers when the integration itself fails.
      console.error(err);
      send(500, { message: 'Internal Server Error' });
    }
  });
}

function toEvent(
  req: http.IncomingMessage,
  url: URL,
  route: CompiledRoute,
  params: Record<string, string>,
  body: Buffer,
): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = String(v);
  const query = url.searchParams.size ? Object.fromEntries(url.searchParams) : undefined;
  const now = new Date();
  const isText = body.length === 0 || /json|text/.test(headers['content-type'] ?? 'application/json');
  return {
    version: '2.0',
    routeKey: route.routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: query,
    pathParameters: route.names.length ? params : undefined,
    body: body.length ? (isText ? body.toString('utf8') : body.toString('base64')) : undefined,
    isBase64Encoded: !isText,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method: route.method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: route.routeKey,
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
  };
}
