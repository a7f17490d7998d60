import createClient, { type Client } from 'openapi-fetch';
import {
  type ContextPlaneError,
  errorFrom,
  InProgressError,
  NotFoundError,
  ServiceUnavailableError,
  VersionConflictError,
} from './errors.js';
import type { components, operations, paths } from './schema.js';

export * from './errors.js';
export type { components, operations, paths } from './schema.js';

type Schemas = components['schemas'];
export type Health = Schemas['Health'];
export type AppendTurnsRequest = Schemas['AppendTurnsRequest'];
export type Turn = AppendTurnsRequest['turns'][number];
export type AppendAnswer = Schemas['AppendAnswer'];
export type Session = Schemas['Session'];
export type EventsPage = Schemas['EventsPage'];
export type SessionEvent = EventsPage['events'][number];
export type ContextRequest = Schemas['ContextRequest'];
export type ContextResponse = Schemas['ContextResponse'];
export type ToolInvocationRequest = Schemas['ToolInvocationRequest'];
export type ToolAnswer = Schemas['ToolAnswer'];
export type FactInput = Schemas['FactInput'];
export type FactUpsertAnswer = Schemas['FactUpsertAnswer'];
export type FactSearchAnswer = Schemas['FactSearchAnswer'];
export type FactSearchQuery = NonNullable<operations['searchFacts']['parameters']['query']>;
export type FactHistory = Schemas['FactHistory'];
export type DeletionAccepted = Schemas['DeletionAccepted'];
export type DeletionStatus = Schemas['DeletionStatus'];
export type ProfilePut = Schemas['ProfilePut'];
export type Profile = Schemas['Profile'];
export type CachePut = Schemas['CachePut'];
export type CachePutAnswer = Schemas['CachePutAnswer'];
export type CacheGetAnswer = Schemas['CacheGetAnswer'];
export type CacheQuery = operations['getCache']['parameters']['query'];

export interface ContextPlaneOptions {
  /** e.g. `http://127.0.0.1:3000` (npm start) or the stack's `ApiUrl` output */
  baseUrl: string;
  /** the tenant's API key, sent as `Authorization: Bearer <key>` */
  apiKey?: string;
  /** another fetch (tests, proxies); default: the global fetch of Node >= 20 or the browser */
  fetch?: (input: Request) => Promise<Response>;
  /** headers sent with every request (e.g. `x-correlation-id`) */
  headers?: Record<string, string>;
  /** retries of a request that is safe to repeat (reads, keyed appends, tool calls) after a network
   * failure or a 503, waiting Retry-After (default 1 s) between them; default 2 */
  transientRetries?: number;
}

export interface AppendOptions {
  /** the first attempt's `Idempotency-Key`; default: a random UUID, so repeating a request whose answer
   * was lost never appends twice */
  idempotencyKey?: string;
  /** on 409 version_conflict: read the session, then append at its version, at most this many times
   * (default 3; 0: throw the VersionConflictError) */
  conflictRetries?: number;
  /** what to append at the session's new version (default: the same turns); return null to give up
   * (the VersionConflictError is thrown) */
  onConflict?: (
    session: Session | null,
    conflict: VersionConflictError,
  ) => Turn[] | null | Promise<Turn[] | null>;
}

export interface AppendResult extends AppendAnswer {
  /** true when the service answered from the key's receipt (the turns had landed before) */
  replayed: boolean;
  /** the key the answered request carried */
  idempotencyKey: string;
  /** version conflicts resolved on the way */
  conflicts: number;
}

export interface InvokeOptions {
  /** `Prefer: wait=N`: the service waits up to N s (max 10) for an in-flight duplicate; default 10 */
  waitSeconds?: number;
  /** keep asking while the call is `in_progress` elsewhere, until this many ms have passed; default 60,000 */
  timeoutMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A key for an append at another version: a new body needs a new key, and the same retry gets the same one. */
const keyAt = (key: string, version: number) => `${key.slice(0, 240)}.v${version}`;

/**
 * The context-plane HTTP API. Every method resolves with the answer's body or throws a
 * ContextPlaneError subclass carrying the service's `code` and `details`. `raw` is the typed
 * openapi-fetch client underneath, for anything this class does not wrap.
 */
export class ContextPlane {
  readonly raw: Client<paths>;
  private readonly transientRetries: number;

  constructor(options: ContextPlaneOptions) {
    this.transientRetries = options.transientRetries ?? 2;
    this.raw = createClient<paths>({
      baseUrl: options.baseUrl.replace(/\/+$/, ''),
      ...(options.fetch ? { fetch: options.fetch } : {}),
      headers: {
        ...options.headers,
        ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
      },
    });
  }

  /** The body of a 2xx answer, or the typed error; safe requests are repeated after transient failures. */
  private async send<T>(
    call: () => Promise<{ data?: T; error?: unknown; response: Response }>,
    safe: boolean,
  ): Promise<{ data: T; response: Response }> {
    for (let attempt = 0; ; attempt++) {
      let result: { data?: T; error?: unknown; response: Response };
      try {
        result = await call();
      } catch (err) {
        // fetch rejects on network failures only (TypeError): no answer, so nothing is known
        if (!safe || attempt >= this.transientRetries) throw err;
        await sleep(1000);
        continue;
      }
      const { data, error, response } = result;
      if (response.ok) return { data: data as T, response };
      const failure: ContextPlaneError = errorFrom(response, error);
      if (!safe || attempt >= this.transientRetries || !(failure instanceof ServiceUnavailableError))
        throw failure;
      if (failure.status !== 503) throw failure;
      await sleep((failure.retryAfterSeconds ?? 1) * 1000);
    }
  }

  /** The answer's body, through send()'s retries. */
  private async body<T>(
    call: () => Promise<{ data?: T; error?: unknown; response: Response }>,
    safe: boolean,
  ) {
    return (await this.send(call, safe)).data;
  }

  /** `GET /v1/health`: whether each store is up (200, or 503 with the same shape). */
  async health(): Promise<Health> {
    const { data, error, response } = await this.raw.GET('/v1/health');
    if (response.ok) return data as Health;
    if (response.status === 503 && (error as Health | undefined)?.stores) return error as Health;
    throw errorFrom(response, error);
  }

  /** `GET /v1/openapi.json`: the OpenAPI 3.1 document this client was generated from. */
  async openApi(): Promise<Record<string, unknown>> {
    return this.body(() => this.raw.GET('/v1/openapi.json'), true);
  }

  /**
   * `POST /v1/sessions/{sessionId}/turns` with compare-and-swap on `expectedVersion` (0 creates). Every
   * attempt carries an `Idempotency-Key`, so it is repeated after a network failure or a 503 without
   * appending twice. On a 409 version_conflict it reads the session and appends again at the session's
   * version (`onConflict` may change the turns, or give up), under a key derived from the first.
   */
  async appendTurns(
    sessionId: string,
    request: AppendTurnsRequest,
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    const baseKey = options.idempotencyKey ?? globalThis.crypto.randomUUID();
    const maxConflicts = options.conflictRetries ?? 3;
    let body = request;
    let key = baseKey;
    for (let conflicts = 0; ; conflicts++) {
      try {
        const { data, response } = await this.send(
          () =>
            this.raw.POST('/v1/sessions/{sessionId}/turns', {
              params: { path: { sessionId }, header: { 'Idempotency-Key': key } },
              body,
            }),
          true,
        );
        return {
          ...data,
          replayed: response.headers.get('idempotent-replayed') === 'true',
          idempotencyKey: key,
          conflicts,
        };
      } catch (err) {
        if (!(err instanceof VersionConflictError) || conflicts >= maxConflicts) throw err;
        // Rehydrate: the session as it is now (null: it expired or never was, so version 0 creates it).
        const session = await this.getSession(sessionId).catch((e: unknown) => {
          if (e instanceof NotFoundError) return null;
          throw e;
        });
        const turns = options.onConflict ? await options.onConflict(session, err) : body.turns;
        if (!turns) throw err;
        const version = session?.version ?? 0;
        body = { ...body, expectedVersion: version, turns };
        key = keyAt(baseKey, version);
      }
    }
  }

  /** `GET /v1/sessions/{sessionId}`. */
  async getSession(sessionId: string): Promise<Session> {
    return this.body(
      () => this.raw.GET('/v1/sessions/{sessionId}', { params: { path: { sessionId } } }),
      true,
    );
  }

  /** `GET /v1/sessions/{sessionId}/events`: one page (`next` is the next page's `after`). */
  async listEvents(sessionId: string, query: { after?: number; limit?: number } = {}): Promise<EventsPage> {
    return this.body(
      () => this.raw.GET('/v1/sessions/{sessionId}/events', { params: { path: { sessionId }, query } }),
      true,
    );
  }

  /** Every event after `after`, page by page. */
  async *events(sessionId: string, after = 0, pageSize = 100): AsyncGenerator<SessionEvent> {
    let next: number | null = after;
    while (next !== null) {
      const page: EventsPage = await this.listEvents(sessionId, { after: next, limit: pageSize });
      yield* page.events;
      next = page.next;
    }
  }

  /** `POST /v1/sessions/{sessionId}/context`: the budgeted context for the next model call. */
  async buildContext(sessionId: string, request: ContextRequest): Promise<ContextResponse> {
    return this.body(
      () =>
        this.raw.POST('/v1/sessions/{sessionId}/context', {
          params: { path: { sessionId } },
          body: request,
        }),
      true,
    );
  }

  /**
   * `POST /v1/sessions/{sessionId}/tools/{toolName}/invocations`: runs the tool once per (session, step,
   * tool). While another call with the same key is in progress it waits (`Prefer: wait`, then
   * Retry-After) until the stored answer comes back or `timeoutMs` passes (then InProgressError).
   */
  async invokeTool(
    sessionId: string,
    toolName: string,
    request: ToolInvocationRequest,
    options: InvokeOptions = {},
  ): Promise<ToolAnswer> {
    const wait = Math.min(Math.max(Math.floor(options.waitSeconds ?? 10), 0), 10);
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    for (;;) {
      try {
        // awaited here, so that an in-progress answer is caught below
        return await this.body(
          () =>
            this.raw.POST('/v1/sessions/{sessionId}/tools/{toolName}/invocations', {
              params: {
                path: { sessionId, toolName },
                ...(wait ? { header: { Prefer: `wait=${wait}` } } : {}),
              },
              body: request,
            }),
          true,
        );
      } catch (err) {
        if (!(err instanceof InProgressError)) throw err;
        const pause = (err.retryAfterSeconds ?? 1) * 1000;
        if (Date.now() + pause > deadline) throw err;
        await sleep(pause);
      }
    }
  }

  /** `POST /v1/facts`: upsert by key (or by text when unkeyed). */
  async upsertFact(fact: FactInput): Promise<FactUpsertAnswer> {
    return this.body(() => this.raw.POST('/v1/facts', { body: fact }), false);
  }

  /** `GET /v1/facts`: the tenant's facts (and a user's), best first. */
  async searchFacts(query: FactSearchQuery = {}): Promise<FactSearchAnswer> {
    return this.body(() => this.raw.GET('/v1/facts', { params: { query } }), true);
  }

  /** `GET /v1/facts/{factId}/history`: every version of the fact's lineage, newest first. */
  async factHistory(factId: string, query: { limit?: number; before?: number } = {}): Promise<FactHistory> {
    return this.body(
      () => this.raw.GET('/v1/facts/{factId}/history', { params: { path: { factId }, query } }),
      true,
    );
  }

  /** `DELETE /v1/sessions/{sessionId}`: starts the deletion (202); asking again answers the same one. */
  async deleteSession(sessionId: string): Promise<DeletionAccepted> {
    return this.body(
      () => this.raw.DELETE('/v1/sessions/{sessionId}', { params: { path: { sessionId } } }),
      true,
    );
  }

  /** `DELETE /v1/users/{userId}`: the user's profile, facts and sessions (202). */
  async deleteUser(userId: string): Promise<DeletionAccepted> {
    return this.body(() => this.raw.DELETE('/v1/users/{userId}', { params: { path: { userId } } }), true);
  }

  /** `DELETE /v1/facts/{factId}`: every version of the fact's lineage (202). */
  async deleteFact(factId: string): Promise<DeletionAccepted> {
    return this.body(() => this.raw.DELETE('/v1/facts/{factId}', { params: { path: { factId } } }), true);
  }

  /** `GET /v1/deletions/{id}`: progress and counts per store. */
  async getDeletion(id: string): Promise<DeletionStatus> {
    return this.body(() => this.raw.GET('/v1/deletions/{id}', { params: { path: { id } } }), true);
  }

  /**
   * Polls a deletion until it reaches `until`: `sweeping` (everything is gone; a second pass runs after
   * a grace period, by default 2 minutes, for writes that were in flight) or `done`. After `timeoutMs`
   * the last status is returned as it is.
   */
  async waitForDeletion(
    id: string,
    {
      until = 'done',
      timeoutMs = 180_000,
      intervalMs = 500,
    }: { until?: 'sweeping' | 'done'; timeoutMs?: number; intervalMs?: number } = {},
  ): Promise<DeletionStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.getDeletion(id);
      if (status.status === 'done' || status.status === until || Date.now() + intervalMs > deadline)
        return status;
      await sleep(intervalMs);
    }
  }

  /** `PUT /v1/users/{userId}/profile`: replaces the profile (compare-and-swap; 0 creates). */
  async putProfile(userId: string, profile: ProfilePut): Promise<Profile> {
    return this.body(
      () => this.raw.PUT('/v1/users/{userId}/profile', { params: { path: { userId } }, body: profile }),
      false,
    );
  }

  /** `GET /v1/users/{userId}/profile`. */
  async getProfile(userId: string): Promise<Profile> {
    return this.body(
      () => this.raw.GET('/v1/users/{userId}/profile', { params: { path: { userId } } }),
      true,
    );
  }

  /** `PUT /v1/cache`: stores an answer under (question, fingerprint). */
  async putCache(entry: CachePut): Promise<CachePutAnswer> {
    return this.body(() => this.raw.PUT('/v1/cache', { body: entry }), true);
  }

  /** `GET /v1/cache`: `{hit: true, answer}` or `{hit: false}`. */
  async getCache(query: CacheQuery): Promise<CacheGetAnswer> {
    return this.body(() => this.raw.GET('/v1/cache', { params: { query } }), true);
  }
}
