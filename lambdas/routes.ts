/**
 * The HTTP surface, as data: which Lambda serves which route. The CDK construct wires API Gateway
 * from this table and the local dev server dispatches with it, so the two cannot drift.
 */
export const functionNames = ['sessions', 'health'] as const;
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
  { method: 'POST', path: '/v1/sessions/{sessionId}/turns', fn: 'sessions' },
  { method: 'GET', path: '/v1/sessions/{sessionId}', fn: 'sessions' },
  { method: 'GET', path: '/v1/sessions/{sessionId}/events', fn: 'sessions' },
];

/** Where each function's handler module lives, relative to the repository root. */
export const entryOf = (fn: FunctionName | 'authorizer' | string) => `lambdas/handlers/${fn}.ts`;

/** Queues whose messages a function consumes (an SQS event source in AWS, a poller locally). */
export const queueConsumers: { queueEnv: string; fn: string }[] = [];
