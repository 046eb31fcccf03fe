import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeader,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { InvalidInputError } from '@sessions/core';
import { errorAnswer, HttpError } from './error-response.js';
import type { InflightTracker } from './inflight-tracker.js';
import { isLoopbackHost } from './loopback.js';
import type { NodeRoute } from './node-agent-route.js';
import { requestIdOf } from './request-id.js';

export interface ListenOptions {
  /** Default 8000; 0 picks a free port (read it from `url`). */
  port?: number;
  /** Default `'127.0.0.1'`. Anything but loopback needs `auth` tokens. */
  host?: string;
  /** How long `close()` lets in-flight turns finish before cutting connections, in ms. Default 30 000. */
  shutdownTimeoutMs?: number;
}

/** A server listening for HTTP. */
export interface ListeningServer {
  /** `http://host:port`, with the real port. */
  url: string;
  port: number;
  host: string;
  /** The underlying Node HTTP server. */
  server: Server;
  /**
   * Graceful shutdown: stops accepting connections (requests arriving on kept-alive connections get
   * 503), lets in-flight turns and streams finish, then closes. Connections still open after
   * `shutdownTimeoutMs` are cut. Buffered log lines are written out last.
   */
  close(): Promise<void>;
}

export interface ListenDeps {
  /** Gets the Node bindings (`{ incoming, outgoing }`) as its second argument. */
  fetch: (request: Request, env: unknown) => Response | Promise<Response>;
  /** Answers what it can straight from Node's request (`false`: `fetch` answers it). */
  nodeRoute?: NodeRoute;
  tracker: InflightTracker;
  authConfigured: boolean;
  /** Writes out buffered log lines; called last when the server closes. */
  flushLogs?: () => Promise<void>;
  /** Logs a request refused for its `Host` (a server without tokens answers loopback names only). */
  onForeignHost?: (fields: Record<string, unknown>) => void;
}

function refuseOpenBinding(host: string): never {
  throw new InvalidInputError(
    `Refusing to listen on ${host} without auth: anyone who can reach that address could use the agent, ` +
      'its sessions and your model account. Either pass auth: { tokens: { "<a long random secret>": "alice" } } ' +
      "to createAgentServer (clients then send 'Authorization: Bearer <secret>'), or listen on 127.0.0.1 " +
      '(this machine only) and put an authenticating proxy in front.',
  );
}

/** The name of a `Host` header without its port (`[::1]:80` → `[::1]`). */
function hostName(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.indexOf(':');
  return colon < 0 ? host : host.slice(0, colon);
}

/**
 * Whether a request's `Host` is a loopback name: a server without tokens answers only those, so a
 * web page cannot reach it through a name of its own that it made resolve to 127.0.0.1 (DNS
 * rebinding). The last header seen is remembered: a client sends the same one every time.
 */
function loopbackHostCheck(): (host: string | undefined) => boolean {
  let lastHost: string | undefined;
  let lastAnswer = false;
  return (host) => {
    if (host === undefined) return false;
    if (host !== lastHost) {
      lastAnswer = isLoopbackHost(hostName(host));
      lastHost = host;
    }
    return lastAnswer;
  };
}

function foreignHostAnswer(incoming: IncomingMessage | undefined, deps: ListenDeps): Response {
  const host = incoming?.headers.host;
  const requestId = requestIdOf(incoming?.headers['x-request-id'] as string | undefined);
  const answer = errorAnswer(
    new HttpError(
      'forbidden',
      `Refusing a request for host ${JSON.stringify(host ?? '')}: this server has no auth, so it answers only ` +
        'requests made to a loopback name (localhost, 127.0.0.1, [::1]). Give it auth tokens to serve other names.',
    ),
    requestId,
  );
  deps.onForeignHost?.({
    reqId: requestId,
    code: answer.body.error.code,
    status: answer.status,
    host,
    path: incoming?.url,
  });
  return Response.json(answer.body, { status: answer.status, headers: { 'x-request-id': requestId } });
}

/**
 * The last request's answer on a connection: when a shutdown starts before it is written, it says
 * `Connection: close`, so a kept-alive client sends its next request on a new connection (refused)
 * instead of into this one as it closes (reset). A request pipelined behind it takes that over (its
 * own answer, a 503 or a refusal, says it). Kept on the socket: a `Map` of them, changed on every
 * request, made each young-generation GC about 2.5× slower under load.
 */
const LAST_ANSWER = Symbol('sessions.lastAnswer');
type Tracked = Socket & { [LAST_ANSWER]?: ServerResponse | undefined };

/** Serves `fetch` on Node's HTTP server, with the loopback rule and graceful shutdown. */
export async function listen(deps: ListenDeps, options: ListenOptions = {}): Promise<ListeningServer> {
  const { port = 8000, host = '127.0.0.1', shutdownTimeoutMs = 30_000 } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidInputError(`listen: port must be an integer from 0 to 65535, got ${port}`);
  }
  if (!deps.authConfigured && !isLoopbackHost(host)) refuseOpenBinding(host);
  let closing = false;
  const isLoopbackName = deps.authConfigured ? undefined : loopbackHostCheck();
  const viaFetch = getRequestListener((request: Request, env: unknown) => {
    if (isLoopbackName !== undefined) {
      const incoming = (env as { incoming?: IncomingMessage } | undefined)?.incoming;
      if (!isLoopbackName(incoming?.headers.host)) return foreignHostAnswer(incoming, deps);
    }
    if (!closing) return deps.fetch(request, env);
    const answer = errorAnswer(
      new HttpError('unavailable', 'The server is shutting down: try again shortly'),
    );
    return Response.json(answer.body, {
      status: answer.status,
      headers: { connection: 'close', 'retry-after': '1' },
    });
  });
  const nodeRoute = deps.nodeRoute;
  const server = createServer((incoming, outgoing) => {
    // The plain case of a hot route straight on Node; the rest (refusals included) through the app.
    const direct =
      nodeRoute !== undefined &&
      !closing &&
      (isLoopbackName === undefined || isLoopbackName(incoming.headers.host)) &&
      nodeRoute(incoming, outgoing);
    if (!direct) viaFetch(incoming, outgoing);
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      const reason =
        error.code === 'EADDRINUSE'
          ? `port ${port} on ${host} is already in use: stop what holds it or pick another port`
          : error.message;
      reject(new Error(`Could not listen on ${host}:${port}: ${reason}`, { cause: error }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closed: Promise<void> | undefined;

  // Requests in progress per connection, so a shutdown can end every connection as it falls idle
  // (kept-alive ones, and ones opened but never used, which Node's closeIdleConnections leaves open).
  const sockets = new Map<Socket, number>();
  const endIfIdle = (socket: Socket): void => {
    if (closing && sockets.get(socket) === 0) socket.end();
  };
  // The answers a shutdown told to close, with the `Connection` header each had before (the app's).
  const toldToClose = new WeakMap<ServerResponse, OutgoingHttpHeader | undefined>();
  const tellToClose = (answer: ServerResponse): void => {
    if (answer.headersSent) return;
    toldToClose.set(answer, answer.getHeader('connection'));
    answer.setHeader('connection', 'close');
  };
  const untellToClose = (answer: ServerResponse): void => {
    if (answer.headersSent || !toldToClose.has(answer)) return;
    const before = toldToClose.get(answer);
    toldToClose.delete(answer);
    if (answer.getHeader('connection') !== 'close') return; // the app's own, set since
    if (before === undefined) answer.removeHeader('connection');
    else answer.setHeader('connection', before);
  };
  server.on('connection', (socket: Socket) => {
    sockets.set(socket, 0);
    socket.on('close', () => sockets.delete(socket));
  });
  // Before the app's listener: a request that arrives during a shutdown is told to close before
  // the app answers it, whatever the answer.
  server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    sockets.set(socket, (sockets.get(socket) ?? 0) + 1);
    if (closing) {
      const earlier = (socket as Tracked)[LAST_ANSWER];
      if (earlier !== undefined) untellToClose(earlier);
      tellToClose(response);
    }
    (socket as Tracked)[LAST_ANSWER] = response;
    response.on('close', () => {
      if ((socket as Tracked)[LAST_ANSWER] === response) (socket as Tracked)[LAST_ANSWER] = undefined;
      if (!sockets.has(socket)) return;
      sockets.set(socket, Math.max(0, (sockets.get(socket) ?? 1) - 1));
      endIfIdle(socket);
    });
  });

  const close = (): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      closing = true;
      for (const socket of sockets.keys()) {
        const answer = (socket as Tracked)[LAST_ANSWER];
        if (answer !== undefined) tellToClose(answer);
      }
      const connectionsClosed = new Promise<void>((resolveClosed) => server.close(() => resolveClosed()));
      for (const socket of sockets.keys()) endIfIdle(socket);
      let cut!: () => void;
      const cutShort = new Promise<void>((resolveCut) => {
        cut = resolveCut;
      });
      const deadline = setTimeout(() => {
        for (const socket of sockets.keys()) socket.destroy();
        server.closeAllConnections();
        cut();
      }, shutdownTimeoutMs);
      const turnsDone = Promise.race([deps.tracker.idle(), cutShort]);
      Promise.all([connectionsClosed, turnsDone])
        .then(() => {
          clearTimeout(deadline);
          return deps.flushLogs?.();
        })
        .then(() => resolve());
    });
    return closed;
  };

  return {
    url: `http://${shownHost}:${address.port}`,
    port: address.port,
    host: address.address,
    server,
    close,
  };
}
