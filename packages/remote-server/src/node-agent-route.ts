import type { IncomingMessage, ServerResponse } from 'node:http';
import { agentRequestOf, idempotencyKeyOf, jsonTurn, REPLAYED } from './agent-route.js';
import { ClientGoneError } from './agent-turns.js';
import { ANONYMOUS } from './bearer-auth.js';
import type { ErrorAnswer } from './error-response.js';
import { requestIdOf } from './request-id.js';
import { type Peer, parseJsonBody, type RouteDeps, watchOutgoing } from './server-env.js';
import { wantsEventStream } from './sse.js';
import { writeBatch } from './write-batch.js';

/** What a request's line in the log says (the app's `observe` middleware writes the same). */
export type RequestLine = {
  reqId: string;
  method: string;
  path: string;
  status: number;
  principal: string;
  ms: number;
};

export interface NodeAgentRouteOptions {
  deps: RouteDeps;
  /** The principal of the request's `Authorization`; throws the 401 (or 429) the app would answer. */
  authenticate(authorization: string | undefined, peer: Peer | undefined): string;
  /** Throws the 429 the app would answer when the principal is over its rate limit. */
  limit(principal: string): void;
  /** Largest body; a larger one is left to the app (its 413). */
  maxBody: number;
  /** Requests a browser sent (`Origin`, `Sec-Fetch-Site`) are left to the app (its cross-site guard). */
  leaveBrowsers: boolean;
  /** Whether the app is as the server built it: once routes, middleware or an error handler are added, everything goes through it. */
  appUnchanged(): boolean;
  /** The answer to an error, logged as the app's error handler logs it (never throws); `undefined` when the client went away (499). */
  failure(error: unknown, requestId: string): ErrorAnswer | undefined;
  /** Writes a request's line, or nothing when the server does not log. */
  logRequest?: ((line: RequestLine) => void) | undefined;
}

/** Answers a request straight from Node's request and response; `false` when it is not one it takes. */
export type NodeRoute = (incoming: IncomingMessage, outgoing: ServerResponse) => boolean;

const decoder = new TextDecoder();

/** A `Host` that `@hono/node-server` takes as it is (its own test); any other goes to the app, which checks it. */
const PLAIN_HOST = /^[a-z0-9._-]+(?::(?:[1-5]\d{3,4}|[6-9]\d{3}))?$/;

/** Whether `name` (lower case) is among the request's headers more than once. */
function repeated(rawHeaders: string[], name: string): boolean {
  let seen = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const header = rawHeaders[i]!;
    if (header.length === name.length && header.toLowerCase() === name && ++seen > 1) return true;
  }
  return false;
}

/**
 * `POST /agent` answered as JSON, straight on Node's HTTP server: what the app does for it (request
 * id, auth, rate limits, validation, the turn, idempotency, error answers, the request's log line)
 * without building a web `Request`, a Hono context and a web `Response`, which cost about a quarter
 * of a bare route's time (see bench/README). It takes only the plain case — a plain `Host`, one
 * `Authorization`, a declared body within the limit, no stream asked for, no browser headers when
 * the cross-site guard applies, an app nobody added to — and leaves every other request to the
 * app, so the wire sees one behaviour. A server with CORS options has none (`cors()` answers every
 * request with headers of its own).
 */
export function nodeAgentRoute(options: NodeAgentRouteOptions): NodeRoute {
  const { maxBody, leaveBrowsers, appUnchanged } = options;
  const write = writeBatch();
  return (incoming, outgoing) => {
    if (incoming.method !== 'POST' || incoming.url !== '/agent') return false;
    const headers = incoming.headers;
    const host = headers.host;
    if (host === undefined || !PLAIN_HOST.test(host)) return false;
    const length = headers['content-length'];
    if (length === undefined || headers['transfer-encoding'] !== undefined || Number(length) > maxBody) {
      return false;
    }
    if (leaveBrowsers && (headers.origin !== undefined || headers['sec-fetch-site'] !== undefined))
      return false;
    const accept = headers.accept;
    if (accept !== undefined && wantsEventStream(accept)) return false;
    // Node keeps the first of several `Authorization` headers; the app sees them joined (and refuses).
    if (headers.authorization !== undefined && repeated(incoming.rawHeaders, 'authorization')) return false;
    if (!appUnchanged()) return false;
    answer(options, write, incoming, outgoing);
    return true;
  };
}

async function answer(
  options: NodeAgentRouteOptions,
  write: (send: () => void) => void,
  incoming: IncomingMessage,
  outgoing: ServerResponse,
): Promise<void> {
  const { deps } = options;
  const started = performance.now();
  const end = deps.tracker.begin();
  const headers = incoming.headers;
  const requestId = requestIdOf(headers['x-request-id'] as string | undefined);
  let principal = ANONYMOUS;
  let status = 200;
  let body: string | undefined;
  let extra: Readonly<Record<string, string>> | undefined;
  try {
    principal = options.authenticate(headers.authorization, incoming.socket);
    options.limit(principal);
    const request = agentRequestOf(parseJsonBody(await readBody(incoming)));
    const key = idempotencyKeyOf(headers['idempotency-key'] as string | undefined);
    let replayed = false;
    const turn = await jsonTurn(deps, principal, request, key, watchOutgoing(outgoing), () => {
      replayed = true;
    });
    body = JSON.stringify(turn);
    if (replayed) extra = REPLAYED;
  } catch (error) {
    try {
      const failed = options.failure(error, requestId);
      if (failed === undefined) {
        status = 499;
      } else {
        status = failed.status;
        body = JSON.stringify(failed.body);
        extra = failed.headers;
      }
    } catch {
      // Not expected (`failure` never throws), but the count must end and the client be told.
      outgoing.destroy();
      end();
      return;
    }
  }
  // Written with the other answers of this loop turn (see `writeBatch`).
  write(() => {
    try {
      if (body === undefined) {
        outgoing.writeHead(status, { 'x-request-id': requestId });
        outgoing.end();
      } else {
        outgoing.writeHead(status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'x-request-id': requestId,
          ...extra,
        });
        outgoing.end(body);
      }
      options.logRequest?.({
        reqId: requestId,
        method: 'POST',
        path: '/agent',
        status,
        principal,
        ms: Math.round((performance.now() - started) * 10) / 10,
      });
    } catch {
      // Only a response that cannot be written gets here (the logger never throws): end it.
      outgoing.destroy();
    } finally {
      end();
    }
  });
}

/** The request's body as text (UTF-8, a byte order mark dropped, as `Request.text()` reads it). */
function readBody(incoming: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      resolve(decoder.decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    });
    incoming.on('error', (error) => reject(new ClientGoneError({ cause: error })));
    incoming.on('close', () => {
      if (!incoming.complete) reject(new ClientGoneError());
    });
  });
}
