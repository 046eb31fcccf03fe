// What the Node route of `POST /agent` and the app path it shares code with answer and log in the
// corners: a rate limit's principal, a chunked body cut short, a logger that throws.
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { type ChatModel, MemorySessionStore } from '@sessions/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgentServer } from './agent-server.js';
import { HttpError } from './error-response.js';
import { InflightTracker } from './inflight-tracker.js';
import type { ListeningServer } from './listen.js';
import { nodeAgentRoute } from './node-agent-route.js';
import type { RouteDeps } from './server-env.js';
import {
  captureLogger,
  type Harness,
  type HarnessOptions,
  leaveMidBody,
  startHarness,
} from './server-harness.test-helper.js';
import type { ServerLogger } from './server-logger.js';

let harness: Harness | undefined;
let plain: Server | undefined;
let listening: ListeningServer | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
  await new Promise<void>((resolve) => (plain ? plain.close(() => resolve()) : resolve()));
  plain = undefined;
  await listening?.close();
  listening = undefined;
});

const TOKENS = { 'token-alice': 'alice' };
const HELLO = '{"message":"Hello"}';

async function start(options: HarnessOptions): Promise<Harness> {
  harness = await startHarness({ auth: { tokens: TOKENS }, ...options });
  return harness;
}

/** Writes `text` on a new connection and reads until the server closes it. */
function exchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
  });
}

/** `POST target` with alice's token and a declared length; `/agent` is the Node route's, `/agent?` the app's. */
function post(target: string, lines: string[] = []): string {
  return (
    `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${lines.join('')}` +
    `Content-Length: ${Buffer.byteLength(HELLO)}\r\nConnection: close\r\n\r\n${HELLO}`
  );
}

/** The status of the first answer a connection received, `undefined` when none. */
function statusOf(received: string): number | undefined {
  const match = /^HTTP\/1\.1 (\d{3}) /.exec(received);
  return match ? Number(match[1]) : undefined;
}

describe('the app path', () => {
  it('logs the principal of a request its rate limit refuses (alice, not anonymous), on Node and through the app', async () => {
    // Before the refactor the guard set the principal, then took from its rate limit: a 429's
    // request line named who was limited. `authorize` now throws before `c.set('principal')`.
    const { logger, lines } = captureLogger();
    const h = await start({ logger, rateLimit: { limit: 1, windowMs: 60_000 } });
    expect((await h.agent({ message: 'Hi' }, { token: 'token-alice' })).status).toBe(200);
    const auth = 'Authorization: Bearer token-alice\r\n';
    const node = await exchange(h.listening.port, post('/agent', [auth, 'X-Request-Id: limited-node\r\n']));
    const app = await exchange(h.listening.port, post('/agent?', [auth, 'X-Request-Id: limited-app\r\n']));
    expect([statusOf(node), statusOf(app)]).toEqual([429, 429]);
    const principals = ['limited-node', 'limited-app'].map(
      (reqId) =>
        lines.find((line) => line.message === 'request' && line.fields.reqId === reqId)?.fields.principal,
    );
    expect(principals).toEqual(['alice', 'alice']);
  });

  it('logs a client gone while sending a chunked body as 499, with no error line (as with a declared length)', async () => {
    // A chunked body is read by the guard's streamed body limit, before the route's `readJson`.
    const { logger, lines } = captureLogger();
    const h = await start({ logger });
    await leaveMidBody(
      h.listening,
      'POST /agent HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer token-alice\r\n' +
        'X-Request-Id: chunked-gone\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"mes\r\n',
    );
    await expect
      .poll(() => lines.some((line) => line.fields.reqId === 'chunked-gone' && line.message === 'request'))
      .toBe(true);
    const seen = lines
      .filter((line) => line.fields.reqId === 'chunked-gone')
      .map(({ level, message, fields }) => ({ level, message, status: fields.status }));
    expect(seen).toEqual([
      { level: 'info', message: 'turn cancelled: the client went away', status: undefined },
      { level: 'info', message: 'request', status: 499 },
    ]);
  });
});

describe('when logging fails', () => {
  /** A logger whose "request refused" line throws (a destination that fails, say). */
  const failingRefusals = (): ServerLogger => ({
    info(_fields, message) {
      if (message === 'request refused') throw new Error('the log destination failed');
    },
    warn() {},
    error() {},
  });

  it('answers a refused request with its refusal on both paths when the refusal cannot be logged', async () => {
    const server = createAgentServer({
      agent: { name: 'Remote Assistant', instructions: 'Answer.' },
      // Never called: every request here is refused before its turn.
      model: { generate: () => Promise.reject(new Error('not called')) } as unknown as ChatModel,
      store: new MemorySessionStore(),
      auth: { tokens: TOKENS },
      logger: failingRefusals(),
    });
    listening = await server.listen({ port: 0, host: '127.0.0.1', shutdownTimeoutMs: 500 });
    // No token: a 401 whose "request refused" line throws; the line is lost, not the answer.
    const app = await exchange(listening.port, post('/agent?'));
    const node = await exchange(listening.port, post('/agent'));
    expect(statusOf(app)).toBe(401);
    expect(statusOf(node)).toBe(401);
  });

  it('ends its in-flight count whatever fails (close() would otherwise wait shutdownTimeoutMs)', async () => {
    const tracker = new InflightTracker();
    const route = nodeAgentRoute({
      // Only the tracker is reached: authentication refuses before the body or the turn.
      deps: { tracker } as unknown as RouteDeps,
      authenticate: () => {
        throw new HttpError('unauthorized', 'Missing or unknown bearer token');
      },
      limit: () => {},
      maxBody: 1024,
      leaveBrowsers: false,
      appUnchanged: () => true,
      failure: () => {
        throw new Error('the log destination failed');
      },
    });
    let taken = 0;
    plain = createServer((incoming, outgoing) => {
      if (route(incoming, outgoing)) taken += 1;
      else {
        outgoing.writeHead(404);
        outgoing.end();
      }
    });
    await new Promise<void>((resolve) => plain!.listen(0, '127.0.0.1', resolve));
    const { port } = plain.address() as { port: number };
    await exchange(port, post('/agent'));
    expect(taken).toBe(1);
    expect(tracker.count).toBe(0);
  });
});
