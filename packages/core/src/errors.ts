const MARKER = Symbol.for('sessions.error');

/** Stable, machine-readable error codes. The server maps each to one HTTP status. */
export type SessionsErrorCode =
  | 'invalid_input'
  | 'not_configured'
  | 'not_found'
  | 'conflict'
  | 'session_corrupt'
  | 'model_error'
  | 'timeout'
  | 'rate_limited'
  | 'budget_exceeded'
  | 'unauthorized'
  | 'forbidden'
  | 'payload_too_large'
  | 'unavailable';

export interface SessionsErrorOptions {
  cause?: unknown;
}

/**
 * Base of every error this project throws. Recognise it with `SessionsError.is(error)`, not
 * `instanceof`, so two installed copies of a package still agree.
 */
export class SessionsError extends Error {
  readonly code: SessionsErrorCode;

  constructor(code: SessionsErrorCode, message: string, options?: SessionsErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    Object.defineProperty(this, MARKER, { value: true });
  }

  static is(error: unknown): error is SessionsError {
    return typeof error === 'object' && error !== null && MARKER in error;
  }
}

/** Bad input from the caller: an invalid id, a malformed value, an unknown file type. */
export class InvalidInputError extends SessionsError {
  constructor(message: string, options?: SessionsErrorOptions) {
    super('invalid_input', message, options);
  }
}

/** A Session method was called whose port (memory, knowledge, model) was not given. */
export class NotConfiguredError extends SessionsError {
  constructor(message: string, options?: SessionsErrorOptions) {
    super('not_configured', message, options);
  }
}

export class NotFoundError extends SessionsError {
  constructor(message: string, options?: SessionsErrorOptions) {
    super('not_found', message, options);
  }
}

export class ConflictError extends SessionsError {
  constructor(message: string, options?: SessionsErrorOptions) {
    super('conflict', message, options);
  }
}

/** Stored data that cannot be read back. `file` names what is damaged. */
export class SessionCorruptError extends SessionsError {
  readonly file: string | undefined;

  constructor(message: string, options?: SessionsErrorOptions & { file?: string }) {
    super('session_corrupt', message, options);
    this.file = options?.file;
  }
}

/** SQLite's codes for a file that is not a database, or a damaged one. */
const DAMAGED_SQLITE = new Set(['SQLITE_NOTADB', 'SQLITE_CORRUPT']);

/**
 * For stores on Keyv (memory, knowledge): `error` as a `SessionCorruptError` naming `file` when it
 * says the store is damaged — a SQLite file that is not a database, or a stored value that is not
 * JSON (at `key` when known) — otherwise `error` as it is.
 */
export function storeDamage(error: unknown, options: { store: string; file: string; key?: string }): unknown {
  if (SessionsError.is(error)) return error;
  const { store, file, key } = options;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && DAMAGED_SQLITE.has(code)) {
    return new SessionCorruptError(
      `${store} ${file} is not a readable SQLite database (${code}): restore it from a backup, or move it away to start empty`,
      { file, cause: error },
    );
  }
  if (error instanceof SyntaxError) {
    const what = key === undefined ? 'a stored value' : `the value at "${key}"`;
    return new SessionCorruptError(
      `${store} ${file} is damaged: ${what} is not valid JSON (Keyv cannot deserialize it)`,
      { file, cause: error },
    );
  }
  return error;
}

/** The model failed. `status` is the provider's HTTP status when there was one. */
export class ModelError extends SessionsError {
  readonly status: number | undefined;
  readonly retryable: boolean;

  constructor(message: string, options?: SessionsErrorOptions & { status?: number; retryable?: boolean }) {
    super('model_error', message, options);
    this.status = options?.status;
    this.retryable = options?.retryable ?? false;
  }
}

/** An operation ran past its time limit. */
export class TimeoutError extends SessionsError {
  readonly retryable: boolean = true;

  constructor(message: string, options?: SessionsErrorOptions) {
    super('timeout', message, options);
  }
}

/** Too many turns in too short a time (the `rateLimit` middleware, a server's limiter). */
export class RateLimitError extends SessionsError {
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options?: SessionsErrorOptions & { retryAfterMs?: number }) {
    super('rate_limited', message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** A token budget (the `budget` middleware) is spent. */
export class BudgetExceededError extends SessionsError {
  constructor(message: string, options?: SessionsErrorOptions) {
    super('budget_exceeded', message, options);
  }
}

/** Whether retrying the operation that threw `error` may succeed. */
export function isRetryable(error: unknown): boolean {
  if (!SessionsError.is(error)) return false;
  if (error.code === 'timeout' || error.code === 'rate_limited' || error.code === 'unavailable') {
    return true;
  }
  return error.code === 'model_error' && (error as ModelError).retryable === true;
}
