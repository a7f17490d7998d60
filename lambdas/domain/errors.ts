/**
 * Named errors of the domain. Each carries its HTTP status and error code so that exactly one place
 * (lambdas/http/middleware.ts) maps them to responses; nothing else builds error bodies.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
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

export class PayloadTooLargeError extends AppError {
  constructor(limitBytes: number, actualBytes: number) {
    super(413, 'payload_too_large', `body is ${actualBytes} bytes, limit is ${limitBytes}`, {
      limitBytes,
      actualBytes,
    });
  }
}

export class StoreUnavailableError extends AppError {
  constructor(store: string, cause?: unknown) {
    super(503, 'store_unavailable', `${store} is unavailable`, { store });
    if (cause) this.cause = cause;
  }
}
