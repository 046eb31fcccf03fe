import {
  BudgetExceededError,
  ConflictError,
  InvalidInputError,
  ModelError,
  NotConfiguredError,
  NotFoundError,
  RateLimitError,
  SessionCorruptError,
  SessionsError,
  type SessionsErrorCode,
  type SessionsErrorOptions,
  TimeoutError,
} from '@sessions/core';

export interface RemoteErrorOptions extends SessionsErrorOptions {
  /** The HTTP status of the answer; absent when no answer came (the agent was unreachable). */
  status?: number;
  /** The `error.code` the server sent, verbatim (it may be one this client does not know). */
  remoteCode?: string;
  /** The URL that was requested. */
  url?: string;
}

/**
 * A remote agent failed in a way core has no error class for (401, 403, 413, 5xx, unreachable).
 * Errors with a core class (`NotFoundError`, `RateLimitError`, ...) are thrown as that class and
 * carry the same `status`, `remoteCode` and `url` properties.
 */
export class RemoteError extends SessionsError {
  readonly status: number | undefined;
  readonly remoteCode: string | undefined;
  readonly url: string | undefined;

  constructor(code: SessionsErrorCode, message: string, options: RemoteErrorOptions = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = options.status;
    this.remoteCode = options.remoteCode;
    this.url = options.url;
  }
}

/** What every error thrown for an answer of the server carries beside `code`. */
export interface RemoteFailure {
  status?: number;
  remoteCode?: string;
  url?: string;
}

const KNOWN_CODES: ReadonlySet<string> = new Set<SessionsErrorCode>([
  'invalid_input',
  'not_configured',
  'not_found',
  'conflict',
  'session_corrupt',
  'model_error',
  'timeout',
  'rate_limited',
  'budget_exceeded',
  'unauthorized',
  'forbidden',
  'payload_too_large',
  'unavailable',
]);

function codeForStatus(status: number): SessionsErrorCode {
  switch (status) {
    case 400:
    case 422:
      return 'invalid_input';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 408:
    case 504:
      return 'timeout';
    case 409:
      return 'conflict';
    case 413:
      return 'payload_too_large';
    case 429:
      return 'rate_limited';
    case 501:
      return 'not_configured';
    case 502:
      return 'model_error';
    default:
      return 'unavailable';
  }
}

/** Milliseconds of a `Retry-After` header (seconds or an HTTP date), if any. */
export function retryAfterMs(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The typed error for an answer `{ error: { code, message } }` (or any other failed answer). */
export function errorFromAnswer(options: {
  /** Undefined for an `error` event of a stream (its answer began as a 200). */
  status: number | undefined;
  statusText?: string;
  body: string;
  url: string;
  method: string;
  retryAfter?: string | null;
}): SessionsError & RemoteFailure {
  const { status, url, method } = options;
  let remoteCode: string | undefined;
  let remoteMessage: string | undefined;
  try {
    const parsed: unknown = JSON.parse(options.body);
    const error = (parsed as { error?: unknown } | null)?.error;
    if (typeof error === 'object' && error !== null) {
      const { code, message } = error as { code?: unknown; message?: unknown };
      if (typeof code === 'string') remoteCode = code;
      if (typeof message === 'string') remoteMessage = message;
    }
  } catch {
    // not JSON: described by its status below
  }
  const code =
    remoteCode !== undefined && KNOWN_CODES.has(remoteCode)
      ? (remoteCode as SessionsErrorCode)
      : codeForStatus(status ?? 500);
  const statusLine =
    status === undefined
      ? 'in its event stream'
      : `${status}${options.statusText ? ` ${options.statusText}` : ''}`;
  const message =
    remoteMessage === undefined
      ? `${method} ${url} failed with ${statusLine}`
      : `${remoteMessage} (${method} ${url}: ${statusLine})`;
  const details: RemoteFailure = {
    url,
    ...(status !== undefined && { status }),
    ...(remoteCode !== undefined && { remoteCode }),
  };
  return Object.assign(coreError(code, message, options.retryAfter ?? null, details), details);
}

function coreError(
  code: SessionsErrorCode,
  message: string,
  retryAfter: string | null,
  details: RemoteFailure,
): SessionsError {
  const { status } = details;
  switch (code) {
    case 'invalid_input':
      return new InvalidInputError(message);
    case 'not_configured':
      return new NotConfiguredError(message);
    case 'not_found':
      return new NotFoundError(message);
    case 'conflict':
      return new ConflictError(message);
    case 'session_corrupt':
      return new SessionCorruptError(message);
    case 'model_error':
      return new ModelError(message, { status, retryable: status === 502 || status === 503 });
    case 'timeout':
      return new TimeoutError(message);
    case 'rate_limited': {
      const wait = retryAfterMs(retryAfter);
      return new RateLimitError(message, wait === undefined ? {} : { retryAfterMs: wait });
    }
    case 'budget_exceeded':
      return new BudgetExceededError(message);
    default:
      return new RemoteError(code, message, details);
  }
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'connection closed',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
};

/** The network error code (`ECONNREFUSED`...) somewhere in an error's cause chain. */
export function networkCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code in NETWORK_REASONS) return code;
    const nested = (current as { errors?: unknown }).errors;
    if (Array.isArray(nested) && nested.length > 0) current = nested[0];
    else current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Whether `fetch` refused the URL's port outright (the Fetch standard's "bad ports": 1, 25, 6000...). */
export function isBadPort(error: unknown): boolean {
  return error instanceof Error && error.cause instanceof Error && error.cause.message === 'bad port';
}

/** `Cannot reach agent at URL: connection refused`, as a `RemoteError` with code `unavailable`. */
export function unreachable(url: string, error: unknown): RemoteError {
  const code = networkCode(error);
  let reason = code === undefined ? undefined : NETWORK_REASONS[code];
  if (reason === undefined && isBadPort(error)) {
    reason = `fetch refuses port ${new URL(url).port} (a "bad port" of the Fetch standard): serve the agent on another port`;
  }
  if (reason === undefined) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    reason = cause instanceof Error ? cause.message : String(cause);
  }
  return new RemoteError('unavailable', `Cannot reach agent at ${url}: ${reason}`, { url, cause: error });
}
