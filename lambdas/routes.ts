import { envNames } from './config';

/**
 * The HTTP surface, as data: which Lambda serves which route. The CDK construct wires API Gateway
 * from this table and the local dev server dispatches with it, so the two cannot drift.
 */
export const functionNames = [
  'sessions',
  'health',
  'openapi',
  'tools',
  'facts',
  'profiles',
  'cache',
  'context',
  'deletions',
  // no route: consumes the summary queue (see queueConsumers)
  'summarizer',
  // no route: consumes the deletion queue
  'deleter',
] as const;
export type FunctionName = (typeof functionNames)[number];

export interface RouteSpec {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  fn: FunctionName;
  /** served without the authorizer */
  public?: boolean;
}

export const routes: RouteSpec[] = [
  { method: 'GET', path: '/v1/health', fn: 'health', public: true },
  { method: 'GET', path: '/v1/openapi.json', fn: 'openapi', public: true },
  { method: 'POST', path: '/v1/sessions/{sessionId}/turns', fn: 'sessions' },
  { method: 'GET', path: '/v1/sessions/{sessionId}', fn: 'sessions' },
  { method: 'GET', path: '/v1/sessions/{sessionId}/events', fn: 'sessions' },
  { method: 'POST', path: '/v1/sessions/{sessionId}/context', fn: 'context' },
  { method: 'POST', path: '/v1/sessions/{sessionId}/tools/{toolName}/invocations', fn: 'tools' },
  { method: 'POST', path: '/v1/facts', fn: 'facts' },
  { method: 'GET', path: '/v1/facts', fn: 'facts' },
  { method: 'GET', path: '/v1/facts/{factId}/history', fn: 'facts' },
  { method: 'PUT', path: '/v1/users/{userId}/profile', fn: 'profiles' },
  { method: 'GET', path: '/v1/users/{userId}/profile', fn: 'profiles' },
  { method: 'PUT', path: '/v1/cache', fn: 'cache' },
  { method: 'GET', path: '/v1/cache', fn: 'cache' },
  { method: 'DELETE', path: '/v1/sessions/{sessionId}', fn: 'deletions' },
  { method: 'DELETE', path: '/v1/users/{userId}', fn: 'deletions' },
  { method: 'DELETE', path: '/v1/facts/{factId}', fn: 'deletions' },
  { method: 'GET', path: '/v1/deletions/{id}', fn: 'deletions' },
];

/** Where each function's handler module lives, relative to the repository root. */
export const entryOf = (fn: FunctionName | 'authorizer' | string) => `lambdas/handlers/${fn}.ts`;

/** Queues whose messages a function consumes (an SQS event source in AWS, a poller locally). */
export const queueConsumers: { queueEnv: string; fn: FunctionName }[] = [
  { queueEnv: envNames.summaryQueueUrl, fn: 'summarizer' },
  { queueEnv: envNames.deletionQueueUrl, fn: 'deleter' },
];

/**
 * CORS, for a browser page on another origin (the inspector served by `npm start`, pointed at a
 * deployed stack). API Gateway answers the preflight from this configuration and the local server
 * answers the same way. No credentials: the key travels in the Authorization header, never a cookie,
 * so an allowed origin gains nothing a script without the key could not already do.
 */
export const cors = {
  /** the construct's default `corsOrigins`: the inspector page of a local `npm start` on port 3000 */
  defaultOrigins: ['http://localhost:3000', 'http://127.0.0.1:3000'],
  allowHeaders: ['authorization', 'content-type', 'idempotency-key', 'prefer', 'x-correlation-id'],
  /** every method a route uses */
  allowMethods: [...new Set(routes.map((r) => r.method))],
  exposeHeaders: ['x-correlation-id', 'retry-after', 'idempotent-replayed'],
  maxAgeSeconds: 600,
} as const;
