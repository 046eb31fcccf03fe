import { type RateLimitError, SessionsError, type SessionsErrorCode } from '@sessions/core';

/** Codes of the wire: every core `SessionsErrorCode`, and the server's own. */
export type WireErrorCode = SessionsErrorCode | 'method_not_allowed' | 'internal_error';

/** The body of every error answer. */
export interface WireError {
  error: { code: WireErrorCode; message: string; request_id?: string };
}

/** The one table from error code to HTTP status. */
export const STATUS_BY_CODE: Readonly<Record<WireErrorCode, number>> = {
  invalid_input: 400,
  unauthorized: 401,
  budget_exceeded: 403,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  session_corrupt: 500,
  internal_error: 500,
  not_configured: 501,
  model_error: 502,
  unavailable: 503,
  timeout: 504,
};

/** Codes whose message is replaced on the wire: what they say may name files, keys or providers. */
const SAFE_MESSAGES: Partial<Record<WireErrorCode, string>> = {
  session_corrupt: 'The stored session data is damaged and cannot be read; the server log names the file',
  internal_error: 'Internal server error',
};

/** An error answer: its status, its body and its extra headers. */
export interface ErrorAnswer {
  status: number;
  body: WireError;
  headers: Record<string, string>;
  /** Whether the server (not the caller) is at fault: log it as an error. */
  serverFault: boolean;
}

/** An error of the HTTP layer with a wire code (a wrong method, a body too large). */
export class HttpError extends Error {
  readonly code: WireErrorCode;
  readonly headers: Record<string, string>;

  constructor(code: WireErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
    this.code = code;
    this.headers = headers;
  }
}

/** Maps anything thrown to the answer the wire gets: no stack, no internal detail for server faults. */
export function errorAnswer(error: unknown, requestId?: string): ErrorAnswer {
  let code: WireErrorCode = 'internal_error';
  let message = '';
  const headers: Record<string, string> = {};
  if (error instanceof HttpError) {
    code = error.code;
    message = error.message;
    Object.assign(headers, error.headers);
  } else if (SessionsError.is(error) && Object.hasOwn(STATUS_BY_CODE, error.code)) {
    code = error.code;
    message = error.message;
    if (code === 'rate_limited') {
      const ms = (error as RateLimitError).retryAfterMs;
      if (typeof ms === 'number' && ms > 0) headers['retry-after'] = String(Math.ceil(ms / 1000));
    }
    if (code === 'model_error') message = modelErrorMessage(error);
  }
  message = SAFE_MESSAGES[code] ?? message;
  const status = STATUS_BY_CODE[code];
  return {
    status,
    body: { error: { code, message, ...(requestId !== undefined && { request_id: requestId }) } },
    headers,
    serverFault: status >= 500,
  };
}

/** A provider's own message may echo request details: say only that the model failed, and its status. */
function modelErrorMessage(error: SessionsError): string {
  const status = (error as { status?: unknown }).status;
  return typeof status === 'number'
    ? `The model call failed (the provider answered ${status})`
    : 'The model call failed';
}
