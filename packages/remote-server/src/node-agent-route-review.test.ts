import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  captureLogger,
  type Harness,
  type HarnessOptions,
  startHarness,
} from './server-harness.test-helper.js';

// The Node route of `POST /agent` (node-agent-route.ts) against the app: the same raw request is sent to
// `/agent` (which listen() answers on Node itself) and to `/agent?` (which it leaves to the app,
// through @hono/node-server: Hono's path is `/agent` too), on the same listening server.

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const TOKENS = { 'token-alice': 'alice' };

async function start(options: HarnessOptions = {}): Promise<Harness> {
  harness = await startHarness({ auth: { tokens: TOKENS }, ...options });
  return harness;
}

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Writes `text` on a new connection and reads until the server closes it. */
function exchange(url: string, text: string): Promise<string> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(text));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
  });
}

/** The answers in what a connection received (Content-Length, chunked, or up to the end). */
function answersOf(received: string): RawAnswer[] {
  const answers: RawAnswer[] = [];
  let rest = received;
  while (rest.length > 0) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) break;
    const [statusLine, ...lines] = rest.slice(0, headEnd).split('\r\n');
    const status = Number(statusLine!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    rest = rest.slice(headEnd + 4);
    let body = '';
    if (status < 200) {
      // an interim answer (100 Continue): no body
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      body = rest.slice(0, length);
      rest = rest.slice(length);
    } else if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const lineEnd = rest.indexOf('\r\n');
        const size = Number.parseInt(rest.slice(0, lineEnd), 16);
        rest = rest.slice(lineEnd + 2);
        if (size === 0) {
          rest = rest.slice(2);
          break;
        }
        body += rest.slice(0, size);
        rest = rest.slice(size + 2);
      }
    } else {
      body = rest;
      rest = '';
    }
    answers.push({ status, headers, body });
  }
  return answers;
}

interface RawRequest {
  method?: string;
  target?: string;
  version?: string;
  /** `undefined`: `127.0.0.1:<port>`; `null`: none. */
  host?: string | null;
  /** Header lines, as sent. */
  lines?: string[];
  body?: string;
  /** Content-Length is sent unless false. */
  contentLength?: boolean;
  /** Connection: close (the default), so the exchange ends. */
  close?: boolean;
}

function rawRequest(url: string, request: RawRequest): string {
  const { port } = new URL(url);
  const body = request.body ?? '';
  const head = [`${request.method ?? 'POST'} ${request.target ?? '/agent'} HTTP/${request.version ?? '1.1'}`];
  if (request.host !== null) head.push(`Host: ${request.host ?? `127.0.0.1:${port}`}`);
  head.push('Content-Type: application/json', ...(request.lines ?? []));
  if (request.contentLength !== false) head.push(`Content-Length: ${Buffer.byteLength(body)}`);
  if (request.close !== false) head.push('Connection: close');
  return `${head.join('\r\n')}\r\n\r\n${body}`;
}

async function send(url: string, request: RawRequest): Promise<RawAnswer[]> {
  return answersOf(await exchange(url, rawRequest(url, request)));
}

/** What a client sees of an answer, with what differs from one request to the next made equal. */
function shown(answer: RawAnswer | undefined, compared: readonly string[] = COMPARED): unknown {
  if (answer === undefined) return undefined;
  const headers: Record<string, string | undefined> = {};
  for (const name of compared) headers[name] = answer.headers[name];
  let body: unknown = answer.body;
  try {
    const parsed = JSON.parse(answer.body);
    body = parsed.error ? { error: parsed.error.code } : { content: typeof parsed.content };
  } catch {
    // not JSON
  }
  return { status: answer.status, headers, body };
}

const COMPARED = ['content-type', 'www-authenticate', 'idempotent-replayed', 'retry-after'] as const;
const CORS_HEADERS = [
  'access-control-allow-origin',
  'access-control-expose-headers',
  'access-control-allow-credentials',
  'vary',
] as const;

/** The same request answered on Node (`/agent`) and by the app (`/agent?`). */
async function nodeAndApp(url: string, request: RawRequest): Promise<[RawAnswer[], RawAnswer[]]> {
  const node = await send(url, { ...request, target: '/agent' });
  const app = await send(url, { ...request, target: '/agent?' });
  return [node, app];
}

const HELLO = '{"message":"Hello"}';
const ALICE = 'Authorization: Bearer token-alice';

describe('requests the Node route leaves to the app, answered as the app does', () => {
  it('refuses two Authorization headers, the first one valid, as the app does (401)', async () => {
    const h = await start();
    const request = { body: HELLO, lines: [ALICE, 'Authorization: Bearer not-a-token'] };
    const [[node], [app]] = await nodeAndApp(h.url, request);
    // The app joins them ("Bearer token-alice, Bearer not-a-token"): no single bearer token, 401.
    expect(app?.status).toBe(401);
    // Node's IncomingMessage keeps only the first (alice's): the Node route leaves the request to the app.
    expect(shown(node)).toEqual(shown(app));
  });

  it('answers a request without Origin with the CORS headers the app sets (cors: origin "*")', async () => {
    const h = await start({ cors: { origin: '*' } });
    const [[node], [app]] = await nodeAndApp(h.url, { body: HELLO, lines: [ALICE] });
    expect(app?.headers['access-control-allow-origin']).toBe('*');
    expect(app?.headers['access-control-expose-headers']).toBe(
      'x-request-id,retry-after,idempotent-replayed',
    );
    expect(shown(node, CORS_HEADERS)).toEqual(shown(app, CORS_HEADERS));
  });

  it('answers a request without Origin with Vary: Origin, as the app does (cors: one origin)', async () => {
    const h = await start({ cors: { origin: 'https://app.example', credentials: true } });
    const [[node], [app]] = await nodeAndApp(h.url, { body: HELLO, lines: [ALICE] });
    expect(app?.headers.vary).toBe('Origin');
    expect(app?.headers['access-control-allow-credentials']).toBe('true');
    expect(shown(node, CORS_HEADERS)).toEqual(shown(app, CORS_HEADERS));
  });

  it('refuses a Host header the Node adapter cannot make a URL of (400), as the app does', async () => {
    const h = await start();
    for (const host of ['not a host', 'example.com:1@other.example', '127.0.0.1:x']) {
      const [[node], [app]] = await nodeAndApp(h.url, { body: HELLO, lines: [ALICE], host });
      expect({ host, app: app?.status }).toEqual({ host, app: 400 });
      expect({ host, ...(shown(node) as object) }).toEqual({ host, ...(shown(app) as object) });
    }
  });

  it('refuses an HTTP/1.0 request without Host (400), as the app does', async () => {
    const h = await start();
    const [[node], [app]] = await nodeAndApp(h.url, {
      body: HELLO,
      lines: [ALICE],
      host: null,
      version: '1.0',
    });
    expect(app?.status).toBe(400);
    expect(shown(node)).toEqual(shown(app));
  });

  it('without auth, refuses a loopback-looking Host that names another host (400), as the app does', async () => {
    const h = await start({ auth: undefined });
    const { port } = new URL(h.url);
    // Its name before the first ':' is "localhost"; the URL's host is evil.example.
    const host = `localhost:${port}@evil.example`;
    const [[node], [app]] = await nodeAndApp(h.url, { body: HELLO, host });
    expect(app?.status).toBe(400);
    expect(shown(node)).toEqual(shown(app));
    expect(h.fake.requests).toHaveLength(0);
  });

  it('logs a client that goes away while sending its body the same way on both paths (499, no error line)', async () => {
    const { logger, lines } = captureLogger();
    const h = await start({ logger });
    const { port } = new URL(h.url);
    for (const [target, reqId] of [
      ['/agent', 'gone-node'],
      ['/agent?', 'gone-app'],
    ] as const) {
      await new Promise<void>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => {
          socket.write(
            `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${ALICE}\r\nX-Request-Id: ${reqId}\r\n` +
              'Content-Length: 100\r\n\r\n{"message":',
            () => setTimeout(() => socket.destroy(), 20),
          );
        });
        socket.on('close', () => resolve());
        socket.on('error', reject);
      });
      await expect
        .poll(() => lines.some((line) => line.fields.reqId === reqId && line.message === 'request'))
        .toBe(true);
    }
    const of = (reqId: string): unknown[] =>
      lines
        .filter((line) => line.fields.reqId === reqId)
        .map(({ level, message, fields: { status, principal } }) => ({ level, message, status, principal }));
    expect(of('gone-node')).toEqual(of('gone-app'));
  });
});

describe('requests the Node route answers as the app does', () => {
  it('refuses two Authorization headers when the first is not a token', async () => {
    const h = await start();
    const request = { body: HELLO, lines: ['Authorization: Bearer not-a-token', ALICE] };
    const [[node], [app]] = await nodeAndApp(h.url, request);
    expect(node?.status).toBe(401);
    expect(shown(node)).toEqual(shown(app));
  });

  it('joins repeated X-Request-Id and Idempotency-Key headers as the app does (so both refuse them)', async () => {
    const h = await start();
    const [[node], [app]] = await nodeAndApp(h.url, {
      body: HELLO,
      lines: [ALICE, 'Idempotency-Key: k1', 'Idempotency-Key: k2', 'X-Request-Id: a', 'X-Request-Id: b'],
    });
    expect(node?.status).toBe(400);
    expect(shown(node)).toEqual(shown(app));
    expect(node?.headers['x-request-id']).not.toMatch(/^a|^b/);
    expect(app?.headers['x-request-id']).not.toMatch(/^a|^b/);
  });

  it('leaves to Node parser what it refuses: two Content-Length, Content-Length with chunked, a lowercase method', async () => {
    const h = await start();
    const { port } = new URL(h.url);
    const head = `Host: 127.0.0.1:${port}\r\n${ALICE}\r\nConnection: close\r\n`;
    const requests = [
      `POST /agent HTTP/1.1\r\n${head}Content-Length: 19\r\nContent-Length: 19\r\n\r\n${HELLO}`,
      `POST /agent HTTP/1.1\r\n${head}Content-Length: 19\r\nTransfer-Encoding: chunked\r\n\r\n13\r\n${HELLO}\r\n0\r\n\r\n`,
      `post /agent HTTP/1.1\r\n${head}Content-Length: 19\r\n\r\n${HELLO}`,
    ];
    for (const request of requests) {
      const answers = answersOf(await exchange(h.url, request));
      expect(answers.map((answer) => answer.status)).toEqual([400]);
    }
    expect(h.fake.requests).toHaveLength(0);
  });

  it('answers Expect: 100-continue the same way (100, then the answer)', async () => {
    const h = await start();
    const [node, app] = await nodeAndApp(h.url, { body: HELLO, lines: [ALICE, 'Expect: 100-continue'] });
    expect(node.map((answer) => answer.status)).toEqual([100, 200]);
    expect(node.map((answer) => shown(answer))).toEqual(app.map((answer) => shown(answer)));
  });

  it('leaves other URL forms and methods to the app', async () => {
    const h = await start();
    const { port } = new URL(h.url);
    const slashes = await send(h.url, { body: HELLO, lines: [ALICE], target: '//agent' });
    expect(slashes.map((answer) => answer.status)).toEqual([404]);
    const absolute = await send(h.url, {
      body: HELLO,
      lines: [ALICE],
      target: `http://127.0.0.1:${port}/agent`,
    });
    expect(absolute.map((answer) => answer.status)).toEqual([200]);
    const head = await send(h.url, { method: 'HEAD', lines: [ALICE], contentLength: false });
    expect(head.map((answer) => answer.status)).toEqual([405]);
  });

  it('keeps a connection usable after refusing a request whose body it never read', async () => {
    const h = await start();
    for (const target of ['/agent', '/agent?']) {
      const big = JSON.stringify({ message: 'x'.repeat(200_000) });
      const first = rawRequest(h.url, { target, body: big, close: false });
      const second = rawRequest(h.url, { target, body: HELLO, lines: [ALICE] });
      const answers = answersOf(await exchange(h.url, first + second));
      expect({ target, statuses: answers.map((answer) => answer.status) }).toEqual({
        target,
        statuses: [401, 200],
      });
    }
  });

  it('answers pipelined requests in order', async () => {
    const h = await start();
    const requests =
      rawRequest(h.url, { body: '{"message":"one"}', lines: [ALICE], close: false }) +
      rawRequest(h.url, { body: '{"message":', lines: [ALICE], close: false }) +
      rawRequest(h.url, { body: '{"message":"three"}', lines: [ALICE] });
    const answers = answersOf(await exchange(h.url, requests));
    expect(answers.map((answer) => answer.status)).toEqual([200, 400, 200]);
  });

  it('writes the same lines for a request refused by the rate limit (principal anonymous in both)', async () => {
    const { logger, lines } = captureLogger();
    const h = await start({ logger, rateLimit: { limit: 1, windowMs: 60_000 } });
    expect((await h.agent({ message: 'Hi' }, { token: 'token-alice' })).status).toBe(200);
    await nodeAndApp(h.url, { body: HELLO, lines: [ALICE, 'X-Request-Id: limited'] });
    const requestLines = lines
      .filter((line) => line.fields.reqId === 'limited')
      .map(({ message, level, fields: { ms: _ms, reason: _reason, ...fields } }) => ({
        message,
        level,
        fields,
      }));
    expect(requestLines).toHaveLength(4);
    expect(requestLines.slice(0, 2)).toEqual(requestLines.slice(2));
    expect(requestLines[1]).toMatchObject({ fields: { status: 429, principal: 'anonymous' } });
  });

  it('lets close() wait for a turn it answers, and refuses a request arriving meanwhile with 503', async () => {
    const h = await start();
    h.fake.reply({ content: 'late', delayMs: 300 });
    const { port } = new URL(h.url);
    const received: Buffer[] = [];
    const socket = connect(Number(port), '127.0.0.1');
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    const closedSocket = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(rawRequest(h.url, { body: HELLO, lines: [ALICE], close: false }));
    await expect.poll(() => h.fake.requests.length).toBe(1);
    const closed = h.listening.close();
    // Pipelined behind the turn in flight: it arrives while the server is closing.
    socket.write(rawRequest(h.url, { body: HELLO, lines: [ALICE], close: false }));
    await closed;
    await closedSocket;
    const answers = answersOf(Buffer.concat(received).toString('latin1'));
    expect(answers.map((answer) => answer.status)).toEqual([200, 503]);
    expect(JSON.parse(answers[0]!.body).content).toBe('late');
    expect(answers[1]!.headers.connection).toBe('close');
    expect(h.fake.requests).toHaveLength(1);
  });
});
