/**
 * Named errors of the domain. Each carries its HTTP status and error code so that exactly one place
 * (lambdas/http/middleware.ts) maps them to responses; nothing else builds error bodies.
 */
/**
 * Every `error.code` an HTTP answer can carry. The OpenAPI document lists exactly these
 * (lambdas/http/responses.ts), so a new code is a compile error until it is added here.
 */
export const httpErrorCodes = [
  'validation_error',
  'unauthorized',
  'not_found',
  'route_not_found',
  'version_conflict',
  'session_user_mismatch',
  'session_moved',
  'in_progress',
  'payload_too_large',
  'input_too_large',
  'idempotency_key_reused',
  'budget_too_small',
  'tool_unavailable',
  'tool_timeout',
  'store_unavailable',
  'policy_invalid',
  'invalid_tool_schema',
  'internal_error',
] as const;
/** The HTTP codes, and the CLI's own (never answered over HTTP). */
export type ErrorCode = (typeof httpErrorCodes)[number] | 'tenant_exists' | 'invalid_label';

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    /** response headers the error calls for (Retry-After) */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export interface FieldIssue {
  path: string;
  message: string;
}

export class ValidationError extends AppError {
  constructor(fields: FieldIssue[], message = `invalid request: ${fields.map((f) => f.path).join(', ')}`) {
    super(400, 'validation_error', message, { fields });
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'missing or invalid API key') {
    super(401, 'unauthorized', message);
  }
}

export class NotFoundError extends AppError {
  constructor(what: string, id: string) {
    super(404, 'not_found', `${what} '${id}' not found`, { [what]: id });
  }
}

export class VersionConflictError extends AppError {
  constructor(expectedVersion: number, currentVersion: number) {
    super(409, 'version_conflict', `expected version ${expectedVersion}, current is ${currentVersion}`, {
      expectedVersion,
      currentVersion,
    });
  }
}

/** A session belongs to the user its first append named; an append naming another is refused. */
export class SessionUserMismatchError extends AppError {
  constructor(sessionId: string, requested: string) {
    super(409, 'session_user_mismatch', `session '${sessionId}' belongs to another user`, {
      sessionId,
      userId: requested,
    });
  }
}

/** A cache answer built on a session state that has moved since: it could never be served. */
export class StaleAnswerError extends AppError {
  constructor(sessionId: string, sessionStamp: string, currentStamp: string) {
    super(409, 'session_moved', `session '${sessionId}' moved since the context the answer was built on`, {
      sessionId,
      sessionStamp,
      currentStamp,
    });
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(limitBytes: number, actualBytes: number, field?: string) {
    super(413, 'payload_too_large', `${field ?? 'body'} is ${actualBytes} bytes, limit is ${limitBytes}`, {
      limitBytes,
      actualBytes,
      ...(field ? { field } : {}),
    });
  }
}

/** Down, late, failing or throttling; the request may be retried as is after Retry-After. */
export class StoreUnavailableError extends AppError {
  constructor(store: string, cause?: unknown) {
    super(503, 'store_unavailable', `${store} is unavailable`, { store }, { 'retry-after': '1' });
    if (cause) this.cause = cause;
  }
}

/** The stored policy version does not parse: the deployment's fault, not the client's (no retry helps
 * until an operator publishes a valid version or moves the label). */
export class PolicyInvalidError extends AppError {
  constructor(route: string, version: number | undefined) {
    super(
      503,
      'policy_invalid',
      `policy '${route}' version ${version ?? '?'} is not a valid policy; publish a valid version`,
      { route, version: version ?? null },
    );
  }
}

export class ToolCallInProgressError extends AppError {
  constructor(idempotencyKey: string, retryAfterSeconds: number, lockExpiresInSeconds: number) {
    super(
      409,
      'in_progress',
      `tool call '${idempotencyKey}' is in progress; retry after ${retryAfterSeconds} s or send Prefer: wait=N`,
      { idempotencyKey, retryAfterSeconds, lockExpiresInSeconds },
      { 'retry-after': String(retryAfterSeconds) },
    );
  }
}

export class IdempotencyKeyReusedError extends AppError {
  constructor(idempotencyKey: string, what = `tool call '${idempotencyKey}' was made with other arguments`) {
    super(422, 'idempotency_key_reused', what, { idempotencyKey });
  }
}

/** The tool failed in a way worth retrying (timeout, 5xx, network): nothing was recorded. */
export class ToolUnavailableError extends AppError {
  constructor(toolName: string, reason: string, message: string, details: Record<string, unknown> = {}) {
    super(
      reason === 'timeout' ? 504 : 502,
      reason === 'timeout' ? 'tool_timeout' : 'tool_unavailable',
      message,
      {
        toolName,
        reason,
        retryable: true,
        ...details,
      },
    );
  }
}

/** The request's input alone does not fit its cap (or what the total leaves after the system prompt). */
export class InputTooLargeError extends AppError {
  constructor(tokens: number, needed: number, cap: number) {
    super(
      413,
      'input_too_large',
      `input needs ${needed} tokens (${tokens} of text), the budget allows ${cap}`,
      {
        tokens,
        needed,
        cap,
      },
    );
  }
}

/** A part that can be neither dropped nor split (the system prompt) does not fit its cap. */
export class BudgetTooSmallError extends AppError {
  constructor(source: string, needed: number, cap: number) {
    super(422, 'budget_too_small', `${source} needs ${needed} tokens, the budget allows ${cap}`, {
      source,
      needed,
      cap,
    });
  }
}

/** A session or user that is being (or was just) deleted: writes to it are refused, as for an unknown id. */
export class DeletedError extends AppError {
  constructor(what: 'session' | 'user', id: string) {
    super(404, 'not_found', `${what} '${id}' was deleted`, { [what]: id, deleted: true });
  }
}
