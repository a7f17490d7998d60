import type { components } from './schema.js';

/** Every `error.code` the service answers (from the OpenAPI document). */
export type ServiceErrorCode = components['schemas']['Error']['error']['code'];
/** Codes for answers without the service's error shape: API Gateway's own 401/403, anything else. */
export type ErrorCode = ServiceErrorCode | 'forbidden' | 'http_error';

export interface FieldIssue {
  path: string;
  message: string;
}

/**
 * An answer that was not 2xx. `code` and `details` are the service's (`{error:{code, message,
 * details}}`); API Gateway's own 401/403 (`{message}`) become `unauthorized` / `forbidden`.
 */
export class ContextPlaneError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    /** the `x-correlation-id` of the answer: quote it when asking about a request */
    readonly correlationId?: string,
    /** seconds, from `Retry-After` (503, 409 in_progress) */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** 400: body, path or query fails its schema; `fields` names each one. */
export class ValidationError extends ContextPlaneError {
  get fields(): FieldIssue[] {
    return (this.details.fields as FieldIssue[] | undefined) ?? [];
  }
}
/** 401 (no key, or a key the service does not know) and 403 (a key API Gateway's authorizer denied). */
export class AuthError extends ContextPlaneError {}
/** 404: no such session, profile, fact, tool or route for this tenant. */
export class NotFoundError extends ContextPlaneError {}
/** 409 version_conflict: another write got there first; `currentVersion` is the session's (or profile's) now. */
export class VersionConflictError extends ContextPlaneError {
  get currentVersion(): number {
    return this.details.currentVersion as number;
  }
}
/** 409 in_progress: a tool call with this key is running elsewhere. */
export class InProgressError extends ContextPlaneError {}
/** 409 session_user_mismatch, 409 session_moved: the request contradicts the state and retrying will not help. */
export class ConflictError extends ContextPlaneError {}
/** 422 idempotency_key_reused: the key was used with another body (or tool arguments). */
export class IdempotencyKeyReusedError extends ContextPlaneError {}
/** 413 payload_too_large / input_too_large, 422 budget_too_small: the request cannot fit. */
export class TooLargeError extends ContextPlaneError {}
/** 502 tool_unavailable, 504 tool_timeout: the tool may not have run; calling again runs it (same key). */
export class ToolUnavailableError extends ContextPlaneError {}
/** 503 store_unavailable / policy_invalid, 500: the service's side; `retryAfterSeconds` says when to retry. */
export class ServiceUnavailableError extends ContextPlaneError {}

const byCode: Partial<Record<ErrorCode, typeof ContextPlaneError>> = {
  validation_error: ValidationError,
  unauthorized: AuthError,
  forbidden: AuthError,
  not_found: NotFoundError,
  route_not_found: NotFoundError,
  version_conflict: VersionConflictError,
  in_progress: InProgressError,
  session_user_mismatch: ConflictError,
  session_moved: ConflictError,
  idempotency_key_reused: IdempotencyKeyReusedError,
  payload_too_large: TooLargeError,
  input_too_large: TooLargeError,
  budget_too_small: TooLargeError,
  tool_unavailable: ToolUnavailableError,
  tool_timeout: ToolUnavailableError,
  store_unavailable: ServiceUnavailableError,
  policy_invalid: ServiceUnavailableError,
  internal_error: ServiceUnavailableError,
  invalid_tool_schema: ServiceUnavailableError,
};

/** The typed error for a non-2xx answer and its parsed body (if it was JSON). */
export function errorFrom(response: Response, body: unknown): ContextPlaneError {
  const retryAfter = Number(response.headers.get('retry-after') ?? Number.NaN);
  const correlationId = response.headers.get('x-correlation-id') ?? undefined;
  const retryAfterSeconds = Number.isFinite(retryAfter) ? retryAfter : undefined;
  const error = (body as { error?: { code?: string; message?: string; details?: Record<string, unknown> } })
    ?.error;
  let code: ErrorCode;
  let message: string;
  if (error?.code) {
    code = error.code as ErrorCode;
    message = error.message ?? code;
  } else {
    code = response.status === 401 ? 'unauthorized' : response.status === 403 ? 'forbidden' : 'http_error';
    message = (body as { message?: string })?.message ?? `HTTP ${response.status}`;
  }
  const Class = byCode[code] ?? (response.status >= 500 ? ServiceUnavailableError : ContextPlaneError);
  return new Class(response.status, code, message, error?.details ?? {}, correlationId, retryAfterSeconds);
}
