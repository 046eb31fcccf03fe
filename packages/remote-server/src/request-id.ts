const REQUEST_ID = /^[\w\-=]{1,255}$/;

/** The client's `X-Request-Id` when usable (1-255 of `[A-Za-z0-9_=-]`), else a new UUID. */
export function requestIdOf(given: string | undefined): string {
  return given !== undefined && REQUEST_ID.test(given) ? given : crypto.randomUUID();
}
