/**
 * Domain errors thrown by the services in this folder. They are the only errors whose message
 * reaches a client; `HTTP_STATUS` maps them to HTTP, and the GraphQL layer exposes `code` as
 * `extensions.code`. Everything else is masked as an internal error.
 */
export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'UNPROCESSABLE'
  | 'RATE_LIMITED'
  | 'UNAVAILABLE'
  | 'SHUTTING_DOWN';

export const HTTP_STATUS: Record<ErrorCode, number> = {
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  UNPROCESSABLE: 422,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  SHUTTING_DOWN: 503,
};

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra fields a client may act on, e.g. which parameter was wrong. */
    readonly details: Record<string, string | number> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export class InvalidInputError extends DomainError {
  constructor(field: string, message: string) {
    super('BAD_USER_INPUT', message, { field });
  }
}

export class NotFoundError extends DomainError {
  constructor(what: string) {
    super('NOT_FOUND', `${what} not found`);
  }
}

export class UnauthenticatedError extends DomainError {
  constructor(message = 'a valid API token is required') {
    super('UNAUTHENTICATED', message);
  }
}

export class ForbiddenError extends DomainError {
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}

export class ConflictError extends DomainError {
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

export class RateLimitedError extends DomainError {
  constructor(readonly retryAfterSeconds: number) {
    super('RATE_LIMITED', 'too many requests', { retryAfter: retryAfterSeconds });
  }
}

export class UnavailableError extends DomainError {
  constructor(message = 'temporarily unavailable, retry later') {
    super('UNAVAILABLE', message, { retryAfter: 5 });
  }
}

/**
 * Ends a live stream that this replica is about to cut because it is shutting down: the last
 * thing its subscriber hears, so that it resubscribes (elsewhere) instead of taking the end for
 * the deployment's outcome. `afterSequence`, for a single deployment's stream, is the last
 * sequence the subscriber was sent.
 */
export class ShuttingDownError extends DomainError {
  constructor(afterSequence?: number) {
    super(
      'SHUTTING_DOWN',
      'the server is shutting down: subscribe again to carry on (to one deployment, with afterSequence set to the last sequence received)',
      afterSequence === undefined ? {} : { afterSequence },
    );
  }
}

const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '53300']);

/**
 * Database outages (refused or dropped connections, a server shutting down, pool time-outs)
 * become UnavailableError so callers answer 503 with Retry-After rather than 500; text the
 * database cannot store becomes a client error.
 */
export function asDomainError(error: unknown): DomainError | undefined {
  if (error instanceof DomainError) return error;
  if (!(error instanceof Error)) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) return new UnavailableError();
  // PostgreSQL text cannot hold NUL (22021): an ID or name carrying one was sent by a client and
  // matches nothing that exists, whichever of the many inputs it came through.
  if (code === '22021') return new DomainError('BAD_USER_INPUT', 'a value contains a NUL character, which no ID or name can hold');
  if (/timeout exceeded when trying to connect|Connection terminated|connection timeout|Query read timeout/i.test(error.message)) {
    return new UnavailableError();
  }
  return undefined;
}
