import { z } from 'zod';
import { idempotencyKeySchema } from '../domain/append-receipt';
import { cacheGetSchema, cachePutSchema } from '../domain/cache';
import { contextRequestSchema } from '../domain/context';
import { deletionAcceptedSchema, deletionPathSchemas, deletionStatusSchema } from '../domain/deletion';
import { factHistoryQuerySchema, factInputSchema } from '../domain/fact-upsert';
import { idSchema } from '../domain/ids';
import { toolSchema } from '../domain/policy';
import { profilePutSchema } from '../domain/profile';
import { routes } from '../routes';
import { appendBody, eventsQuery, invokeBody, searchQuery } from './requests';
import * as res from './responses';

/**
 * The OpenAPI 3.1 document of the HTTP API, built from the zod schemas the handlers validate with (and
 * the response schemas of ./responses.ts) by zod's own JSON Schema converter: OpenAPI 3.1 schemas are
 * JSON Schema 2020-12, which is what `z.toJSONSchema` writes, so nothing in between can disagree with
 * the validators. Served at GET /v1/openapi.json; the clients in clients/ are generated from it.
 */

type Obj = z.ZodObject<z.ZodRawShape>;

interface Answer {
  description: string;
  /** a component name from `components`; none: an empty answer */
  body?: string;
  headers?: Record<string, { description: string; schema: z.ZodType }>;
}

interface Operation {
  operationId: string;
  summary: string;
  tag: string;
  path?: Obj;
  query?: Obj;
  headers?: Record<string, { description: string; schema: z.ZodType; required?: boolean }>;
  /** component name of the request body */
  body?: string;
  answers: Record<number, Answer>;
}

/** Request bodies (converted as zod's input: defaults optional) and answers (its output). */
const requestComponents: Record<string, z.ZodType> = {
  AppendTurnsRequest: appendBody,
  ContextRequest: contextRequestSchema,
  ToolInvocationRequest: invokeBody,
  FactInput: factInputSchema,
  ProfilePut: profilePutSchema,
  CachePut: cachePutSchema,
};

const responseComponents: Record<string, z.ZodType> = {
  Error: res.errorBodySchema,
  GatewayError: res.gatewayErrorSchema,
  Health: res.healthSchema,
  AppendAnswer: res.appendAnswerSchema,
  Session: res.sessionSchema,
  EventsPage: res.eventsPageSchema,
  ContextResponse: res.contextResponseSchema,
  ToolAnswer: res.toolAnswerSchema,
  FactUpsertAnswer: res.factUpsertAnswerSchema,
  FactSearchAnswer: res.factSearchAnswerSchema,
  FactHistory: res.factHistorySchema,
  DeletionAccepted: deletionAcceptedSchema,
  DeletionStatus: deletionStatusSchema,
  Profile: res.profileSchema,
  CachePutAnswer: res.cachePutAnswerSchema,
  CacheGetAnswer: res.cacheGetAnswerSchema,
  // named: openapi-python-client 0.29 drops an unnamed object inside a union inside a union member
  CacheAnswer: res.cacheAnswerSchema,
  OpenApiDocument: z.record(z.string(), z.unknown()),
};

const retryAfter = { description: 'seconds to wait before retrying', schema: z.string() };
const error = (description: string, headers?: Answer['headers']): Answer => ({
  description,
  body: 'Error',
  ...(headers ? { headers } : {}),
});

/** What any authenticated route may answer besides its own. */
const common: Record<number, Answer> = {
  400: error('validation_error: body, path or query fails its schema (details.fields[].path)'),
  401: {
    description:
      "no Authorization header (API Gateway's {message}), or unauthorized: an unknown key found out by the function",
    body: 'ErrorOrGatewayError',
  },
  403: { description: "unknown key (API Gateway's {message})", body: 'GatewayError' },
  413: {
    description: "payload_too_large: body over 256 KiB (past 10 MB API Gateway's own {message})",
    body: 'ErrorOrGatewayError',
  },
  431: {
    description:
      'request line and headers too large, answered before any handler with no body (the local server: Node.js, 16 KiB)',
  },
  500: error('internal_error: a bug or a misconfiguration'),
  503: error('store_unavailable: a store is down, late or throttling (Retry-After)', {
    'retry-after': retryAfter,
  }),
};

const sessionPath = z.object({ sessionId: idSchema });

const accepted = (what: string): Record<number, Answer> => ({
  202: {
    description: `deletion of ${what} started (or already under way, or done): poll GET /v1/deletions/{id}`,
    body: 'DeletionAccepted',
    headers: { location: { description: 'the deletion to poll', schema: z.string() } },
  },
  404: error(`not_found: nothing of ${what} to delete`),
});

/** One entry per route of lambdas/routes.ts, keyed by its route key (a test checks they match). */
export const operations: Record<string, Operation> = {
  'GET /v1/health': {
    operationId: 'getHealth',
    summary: 'Whether each store is up (no key needed)',
    tag: 'service',
    answers: {
      200: { description: 'every store is up', body: 'Health' },
      503: { description: 'a store is down', body: 'Health', headers: { 'retry-after': retryAfter } },
    },
  },
  'GET /v1/openapi.json': {
    operationId: 'getOpenApi',
    summary: 'This document (no key needed)',
    tag: 'service',
    answers: { 200: { description: 'the OpenAPI 3.1 document', body: 'OpenApiDocument' } },
  },
  'POST /v1/sessions/{sessionId}/turns': {
    operationId: 'appendTurns',
    summary: 'Append turns with compare-and-swap on the session version (expectedVersion 0 creates)',
    tag: 'sessions',
    path: sessionPath,
    headers: {
      'Idempotency-Key': {
        description: 'a retry with the same key and body gets the original answer instead of a 409',
        schema: idempotencyKeySchema,
      },
    },
    body: 'AppendTurnsRequest',
    answers: {
      200: {
        description: 'appended (or replayed for a known Idempotency-Key)',
        body: 'AppendAnswer',
        headers: { 'idempotent-replayed': { description: '"true" on a replay', schema: z.literal('true') } },
      },
      404: error('not_found: the session (or its user) was deleted (details.deleted)'),
      409: error('version_conflict (details.currentVersion) or session_user_mismatch'),
      422: error('idempotency_key_reused: the key was used with another body'),
    },
  },
  'GET /v1/sessions/{sessionId}': {
    operationId: 'getSession',
    summary: 'The session: version, summary, recent turns, token counts',
    tag: 'sessions',
    path: sessionPath,
    answers: {
      200: { description: 'the session', body: 'Session' },
      404: error('not_found: no such session for this tenant'),
    },
  },
  'GET /v1/sessions/{sessionId}/events': {
    operationId: 'listEvents',
    summary: "A page of the session's event log",
    tag: 'sessions',
    path: sessionPath,
    query: eventsQuery,
    answers: {
      200: { description: "events after `after`; `next` is the next page's `after`", body: 'EventsPage' },
      404: error('not_found: no such session for this tenant'),
    },
  },
  'POST /v1/sessions/{sessionId}/context': {
    operationId: 'buildContext',
    summary: 'A budgeted, deterministic context for the next model call',
    tag: 'context',
    path: sessionPath,
    body: 'ContextRequest',
    answers: {
      200: {
        description: 'the context (stores that missed their deadline are named in `degraded`)',
        body: 'ContextResponse',
      },
      404: error("not_found: the route's policy does not exist"),
      413: {
        description:
          "payload_too_large (input over 64 KiB, body over 256 KiB; past 10 MB API Gateway's own {message}) or input_too_large (details: tokens, needed, cap)",
        body: 'ErrorOrGatewayError',
      },
      422: error('budget_too_small: the system prompt does not fit its cap'),
      503: error('store_unavailable (the policy) or policy_invalid', { 'retry-after': retryAfter }),
    },
  },
  'POST /v1/sessions/{sessionId}/tools/{toolName}/invocations': {
    operationId: 'invokeTool',
    summary: 'Run a registered tool exactly once per (session, step, tool)',
    tag: 'tools',
    path: z.object({ sessionId: idSchema, toolName: toolSchema.shape.name }),
    headers: {
      Prefer: {
        description: '`wait=N`: wait up to N s (max 10) for an in-flight duplicate instead of a 409',
        schema: z.string().regex(/^wait=\d{1,2}$/),
      },
    },
    body: 'ToolInvocationRequest',
    answers: {
      200: {
        description: 'completed or failed for good (stored; `replayed` on every later call)',
        body: 'ToolAnswer',
        headers: { 'preference-applied': { description: 'the wait applied', schema: z.string() } },
      },
      404: error('not_found: no such tool, route or session, or the session was deleted'),
      409: error('in_progress: a call with this key is running (Retry-After, details.retryAfterSeconds)', {
        'retry-after': retryAfter,
      }),
      422: error('idempotency_key_reused: this step ran with other arguments'),
      500: error('internal_error, or invalid_tool_schema: the registered inputSchema does not compile'),
      502: error('tool_unavailable: the tool failed in a way worth retrying (record released)'),
      504: error('tool_timeout: the tool did not answer within its timeoutMs (record released)'),
      503: error('store_unavailable or policy_invalid', { 'retry-after': retryAfter }),
    },
  },
  'POST /v1/facts': {
    operationId: 'upsertFact',
    summary: 'Write a fact (upsert by key, or by text when unkeyed)',
    tag: 'facts',
    body: 'FactInput',
    answers: {
      200: { description: 'the current version restated (nothing written)', body: 'FactUpsertAnswer' },
      201: {
        description: 'a new version (the first of its key, or one superseding the current)',
        body: 'FactUpsertAnswer',
      },
      404: error('not_found: the user, or a session it cites, was deleted (details.deleted)'),
    },
  },
  'GET /v1/facts': {
    operationId: 'searchFacts',
    summary: "Search the tenant's (and a user's) facts",
    tag: 'facts',
    query: searchQuery,
    answers: { 200: { description: 'best first', body: 'FactSearchAnswer' } },
  },
  'GET /v1/facts/{factId}/history': {
    operationId: 'factHistory',
    summary: "Every version of a fact's lineage, newest first (superseded ones with validUntil)",
    tag: 'facts',
    path: z.object({ factId: idSchema }),
    query: factHistoryQuerySchema,
    answers: {
      200: { description: 'a page of versions', body: 'FactHistory' },
      404: error('not_found: no such fact for this tenant'),
    },
  },
  'PUT /v1/users/{userId}/profile': {
    operationId: 'putProfile',
    summary: "Replace a user's profile (compare-and-swap; expectedVersion 0 creates)",
    tag: 'profiles',
    path: z.object({ userId: idSchema }),
    body: 'ProfilePut',
    answers: {
      200: { description: 'replaced', body: 'Profile' },
      201: { description: 'created', body: 'Profile' },
      404: error('not_found: the user was deleted (details.deleted)'),
      409: error('version_conflict (details.currentVersion)'),
    },
  },
  'GET /v1/users/{userId}/profile': {
    operationId: 'getProfile',
    summary: "A user's profile",
    tag: 'profiles',
    path: z.object({ userId: idSchema }),
    answers: {
      200: { description: 'the profile', body: 'Profile' },
      404: error('not_found: no profile for this user'),
    },
  },
  'PUT /v1/cache': {
    operationId: 'putCache',
    summary: 'Store an answer under (question, fingerprint)',
    tag: 'cache',
    body: 'CachePut',
    answers: {
      200: { description: 'stored', body: 'CachePutAnswer' },
      404: error('not_found: the session was deleted (details.deleted)'),
      409: error('session_moved: the session changed since the context the answer was built on'),
    },
  },
  'GET /v1/cache': {
    operationId: 'getCache',
    summary: 'Look an answer up (a miss is 200 {hit:false})',
    tag: 'cache',
    query: cacheGetSchema,
    answers: { 200: { description: 'hit or miss', body: 'CacheGetAnswer' } },
  },
  'DELETE /v1/sessions/{sessionId}': {
    operationId: 'deleteSession',
    summary: 'Delete a session and everything it owns (asynchronous)',
    tag: 'deletions',
    path: deletionPathSchemas.session,
    answers: accepted('this session'),
  },
  'DELETE /v1/users/{userId}': {
    operationId: 'deleteUser',
    summary: 'Delete a user: profile, facts, and the sessions bound to them (asynchronous)',
    tag: 'deletions',
    path: deletionPathSchemas.user,
    answers: accepted('this user'),
  },
  'DELETE /v1/facts/{factId}': {
    operationId: 'deleteFact',
    summary: 'Delete a fact, every version of its lineage (asynchronous)',
    tag: 'deletions',
    path: deletionPathSchemas.fact,
    answers: accepted('this fact'),
  },
  'GET /v1/deletions/{id}': {
    operationId: 'getDeletion',
    summary: "A deletion's progress and counts per store",
    tag: 'deletions',
    path: deletionPathSchemas.deletion,
    answers: {
      200: { description: 'the deletion', body: 'DeletionStatus' },
      404: error('not_found: no such deletion for this tenant'),
    },
  },
};

const publicRoutes = new Set(routes.filter((r) => r.public).map((r) => `${r.method} ${r.path}`));

/**
 * zod writes `propertyNames: {type: "string"}` for every record: always true of JSON object keys, and
 * it makes openapi-python-client drop the schema from a union (CacheGetAnswer's `answer`). Left out.
 */
function tidy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(tidy);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k, v]) => !(k === 'propertyNames' && JSON.stringify(v) === '{"type":"string"}'))
      .map(([k, v]) => [k, tidy(v)]),
  );
}

const convert = (schema: z.ZodType, io: 'input' | 'output') => {
  const { $schema: _, ...json } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return tidy(json) as Record<string, unknown>;
};

function components(schemas: Record<string, z.ZodType>, io: 'input' | 'output') {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
  const { schemas: out } = z.toJSONSchema(registry, {
    io,
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, Record<string, unknown>> };
  return Object.fromEntries(
    Object.entries(out).map(([id, { $schema: _s, $id: _i, ...json }]) => [id, tidy(json)]),
  );
}

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });

function operationObject(routeKey: string, op: Operation) {
  const isPublic = publicRoutes.has(routeKey);
  const parameters = [
    ...Object.entries(op.path?.shape ?? {}).map(([name, s]) => ({
      name,
      in: 'path',
      required: true,
      schema: convert(s as z.ZodType, 'input'),
    })),
    ...Object.entries(op.query?.shape ?? {}).map(([name, s]) => ({
      name,
      in: 'query',
      required: !(s as z.ZodType).safeParse(undefined).success,
      schema: convert(s as z.ZodType, 'input'),
    })),
    ...Object.entries(op.headers ?? {}).map(([name, h]) => ({
      name,
      in: 'header',
      required: h.required ?? false,
      description: h.description,
      schema: convert(h.schema, 'input'),
    })),
  ];
  const answers = isPublic ? op.answers : { ...common, ...op.answers };
  return {
    operationId: op.operationId,
    summary: op.summary,
    tags: [op.tag],
    ...(isPublic ? { security: [] } : {}),
    ...(parameters.length ? { parameters } : {}),
    ...(op.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: ref(op.body) } } } }
      : {}),
    responses: Object.fromEntries(
      Object.entries(answers).map(([status, a]) => [
        status,
        {
          description: a.description,
          ...headersOf(a),
          ...(a.body ? { content: { 'application/json': { schema: ref(a.body) } } } : {}),
        },
      ]),
    ),
  };
}

/** Answers a handler writes (not API Gateway's own) carry the request's correlation id. */
const fromHandler = (a: Answer) =>
  a.body !== undefined && a.body !== 'GatewayError' && a.body !== 'ErrorOrGatewayError';

function headersOf(a: Answer) {
  const headers: [string, Record<string, unknown>][] = Object.entries(a.headers ?? {}).map(
    ([h, { description, schema }]) => [h, { description, schema: convert(schema, 'output') }],
  );
  if (fromHandler(a))
    headers.push([
      'x-correlation-id',
      {
        description: "the request's own `x-correlation-id` when it sent a valid one, else a new id",
        required: true,
        schema: { type: 'string', minLength: 1 },
      },
    ]);
  return headers.length ? { headers: Object.fromEntries(headers) } : {};
}

let built: Record<string, unknown> | undefined;

/** The document (built once per process: the schemas never change while it runs). */
export function openApiDocument(): Record<string, unknown> {
  if (built) return built;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [routeKey, op] of Object.entries(operations)) {
    const [method, path] = routeKey.split(' ') as [string, string];
    paths[path] ??= {};
    paths[path][method.toLowerCase()] = operationObject(routeKey, op);
  }
  built = {
    openapi: '3.1.0',
    info: {
      title: 'context-plane',
      version: '1.0.0',
      description:
        'Serverless state layer for LLM applications: budgeted context, session memory with compare-and-swap, exactly-once tools.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    tags: [...new Set(Object.values(operations).map((o) => o.tag))].map((name) => ({ name })),
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: "the tenant's API key" },
      },
      schemas: {
        ...components(requestComponents, 'input'),
        ...components(responseComponents, 'output'),
        ErrorOrGatewayError: { anyOf: [ref('Error'), ref('GatewayError')] },
      },
    },
  };
  return built;
}
