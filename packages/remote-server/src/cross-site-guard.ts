import type { Context, MiddlewareHandler } from 'hono';
import type { CorsOptions } from './agent-server.js';
import { HttpError } from './error-response.js';
import { isLoopbackHost } from './loopback.js';
import type { ServerEnv } from './server-env.js';

const SAFE_METHOD = /^(?:GET|HEAD|OPTIONS)$/;

/**
 * Whether the server's CORS options let a page of `origin` call it. A function allows what it
 * echoes back (hono's `cors()` answers with what it returns, often a fallback origin for the rest).
 */
async function corsAllows(options: CorsOptions | undefined, origin: string, c: Context): Promise<boolean> {
  const allowed = options?.origin;
  if (allowed === undefined) return false;
  if (typeof allowed === 'string') return allowed === '*' || allowed === origin;
  if (Array.isArray(allowed)) return allowed.includes(origin);
  const echoed = await allowed(origin, c);
  return echoed === origin || echoed === '*';
}

/**
 * Whether `origin` is the server's own: the request's origin, and only when that names a loopback
 * host (a page that made its own name resolve to 127.0.0.1, DNS rebinding, would be "its own" too).
 */
function isOwnOrigin(origin: string, c: Context): boolean {
  const url = new URL(c.req.url);
  return origin === url.origin && isLoopbackHost(url.hostname);
}

/**
 * Refuses a write that a web page of another site made a browser send (cross-site request
 * forgery: a form or a `text/plain` fetch needs no preflight, so CORS alone does not stop it): an
 * `Origin` that is neither the server's own nor one its CORS options allow, or `Sec-Fetch-Site`
 * saying another site when no `Origin` came. Clients that are not browsers send neither and pass.
 * For servers without auth; a bearer token is never sent by a browser on its own.
 */
export function crossSiteGuard(options: CorsOptions | undefined): MiddlewareHandler<ServerEnv> {
  return async function crossSiteGuard(c, next) {
    if (SAFE_METHOD.test(c.req.method)) return next();
    const origin = c.req.header('origin');
    if (origin !== undefined) {
      if (!isOwnOrigin(origin, c) && !(await corsAllows(options, origin, c))) {
        throw new HttpError(
          'forbidden',
          `Refusing a request a web page of ${origin} made: this server has no auth, so only its own ` +
            'pages and the origins of its `cors` option may write to it',
        );
      }
    } else {
      const site = c.req.header('sec-fetch-site');
      if (site === 'cross-site' || site === 'same-site') {
        throw new HttpError(
          'forbidden',
          'Refusing a request a web page of another site made: this server has no auth',
        );
      }
    }
    return next();
  };
}
