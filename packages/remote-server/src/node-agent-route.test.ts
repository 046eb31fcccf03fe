import { connect } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type AnyJson,
  captureLogger,
  type Harness,
  type HarnessOptions,
  jsonOf,
  leaveMidBody,
  startHarness,
} from './server-harness.test-helper.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const TOKENS = { 'token-alice': 'alice', 'token-bob': 'bob' };

interface Seen {
  status: number;
  headers: Record<string, string | null>;
  body: AnyJson;
}

const COMPARED_HEADERS = ['content-type', 'www-authenticate', 'idempotent-replayed', 'retry-after'];

/** What a client sees of an answer, with what differs from one request to the next made equal. */
async function seen(response: Response, sentRequestId?: string): Promise<Seen> {
  const headers: Record<string, string | null> = {};
  for (const name of COMPARED_HEADERS) headers[name] = response.headers.get(name);
  const requestId = response.headers.get('x-request-id');
  expect(requestId).toEqual(sentRequestId ?? expect.any(String));
  const body = await jsonOf(response);
  // A rate limit's message says how long to wait, in ms.
  if (typeof body?.error?.message === 'string')
    body.error.message = body.error.message.replace(/\d+ ms$/, 'n ms');
  if (body?.error?.request_id !== undefined) {
    expect(body.error.request_id).toBe(requestId);
    body.error.request_id = '<request id>';
  }
  // A second turn of a session sends a longer history: another time, other token counts.
  if (body?.metadata?.timestamp !== undefined) body.metadata.timestamp = '<timestamp>';
  if (body?.metadata?.usage !== undefined) body.metadata.usage = '<usage>';
  return { status: response.status, headers, body };
}

interface Sent {
  body?: string;
  headers?: Record<string, string>;
}

/**
 * Sends `POST /agent` twice: to the listening server (Node's HTTP server, where `listen()` answers
 * the plain case itself, unless `viaApp`) and through the app's `fetch` (Hono, as any other host
 * runs it).
 */
async function bothWays(h: Harness, sent: Sent, { viaApp = false } = {}): Promise<[Seen, Seen]> {
  const init = (): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/json', ...sent.headers },
    body: sent.body ?? null,
  });
  const requestId = sent.headers?.['x-request-id'];
  const before = h.appAnswered();
  const listened = await seen(await fetch(`${h.url}/agent`, init()), requestId);
  // Who answered it: the Node route, unless told otherwise (else this compares the app with itself).
  expect(h.appAnswered() - before).toBe(viaApp ? 1 : 0);
  const fetched = await seen(await h.server.fetch(new Request(`${h.url}/agent`, init())), requestId);
  return [listened, fetched];
}

async function start(options: HarnessOptions = {}): Promise<Harness> {
  harness = await startHarness({ auth: { tokens: TOKENS }, ...options });
  return harness;
}

const alice = { authorization: 'Bearer token-alice' };
const bob = { authorization: 'Bearer token-bob' };

describe('POST /agent on Node and through the app', () => {
  it('answers every kind of request the same way', async () => {
    const h = await start();
    await h.agent({ message: 'Hi', session_id: 'alice-1', user_id: 'u1' }, { token: 'token-alice' });
    const cases: Array<[string, Sent]> = [
      ['a turn of a session', { body: '{"message":"Hello","session_id":"alice-1"}', headers: alice }],
      ['the reference client', { body: '{"query":"Hello","session_id":"alice-1"}', headers: alice }],
      [
        'its own request id',
        { body: '{"message":"Hi","session_id":"alice-1"}', headers: { ...alice, 'x-request-id': 'req-42' } },
      ],
      ['a byte order mark', { body: '\uFEFF{"message":"Hello","session_id":"alice-1"}', headers: alice }],
      ['no token', { body: '{"message":"Hello"}' }],
      ['an unknown token', { body: '{"message":"Hello"}', headers: { authorization: 'Bearer nope' } }],
      ['another principal', { body: '{"message":"Hello","session_id":"alice-1"}', headers: bob }],
      ['another user', { body: '{"message":"Hello","session_id":"alice-1","user_id":"u2"}', headers: alice }],
      ['malformed JSON', { body: '{"message":', headers: alice }],
      ['an empty body', { body: '', headers: alice }],
      ['not an object', { body: '[1,2]', headers: alice }],
      ['no message', { body: '{"session_id":"alice-1"}', headers: alice }],
      ['an empty message', { body: '{"message":"  "}', headers: alice }],
      ['a bad session id', { body: '{"message":"Hi","session_id":"../etc"}', headers: alice }],
      [
        'a bad Idempotency-Key',
        { body: '{"message":"Hi"}', headers: { ...alice, 'idempotency-key': 'a b' } },
      ],
    ];
    for (const [name, sent] of cases) {
      const [listened, fetched] = await bothWays(h, sent);
      expect({ name, ...listened }).toEqual({ name, ...fetched });
    }
  });

  it('answers a replayed Idempotency-Key the same way, and runs the turn once', async () => {
    const h = await start();
    const sent = {
      body: '{"message":"Hello","session_id":"keyed"}',
      headers: { ...alice, 'idempotency-key': 'key-1' },
    };
    const first = await fetch(`${h.url}/agent`, { method: 'POST', ...sent });
    expect(first.status).toBe(200);
    const firstBody: AnyJson = await first.json();
    const [listened, fetched] = await bothWays(h, sent);
    expect(listened).toEqual(fetched);
    expect(listened.headers['idempotent-replayed']).toBe('true');
    expect(listened.body).toEqual({
      ...firstBody,
      metadata: { ...firstBody.metadata, timestamp: '<timestamp>', usage: '<usage>' },
    });
    expect(h.fake.requests).toHaveLength(1);
  });

  it('answers the same rate limit refusal', async () => {
    const h = await start({ rateLimit: { limit: 2, windowMs: 60_000 } });
    for (let i = 0; i < 2; i++) {
      expect((await h.agent({ message: 'Hi' }, { token: 'token-alice' })).status).toBe(200);
    }
    const [listened, fetched] = await bothWays(h, { body: '{"message":"Hi"}', headers: alice });
    expect(listened.status).toBe(429);
    expect(listened.headers['retry-after']).toMatch(/^\d+$/);
    expect({ ...listened, headers: { ...listened.headers, 'retry-after': 'n' } }).toEqual({
      ...fetched,
      headers: { ...fetched.headers, 'retry-after': 'n' },
    });
  });

  it('answers the same model failure', async () => {
    const h = await start();
    h.fake.reply({ error: { status: 500, message: 'boom' } });
    h.fake.reply({ error: { status: 500, message: 'boom' } });
    const [listened, fetched] = await bothWays(h, { body: '{"message":"Hi"}', headers: alice });
    expect(listened.status).toBe(502);
    expect(listened).toEqual(fetched);
  });

  it('writes the same request line', async () => {
    const { logger, lines } = captureLogger();
    const h = await start({ logger });
    await bothWays(h, { body: '{"message":"Hi"}', headers: { ...alice, 'x-request-id': 'req-line' } });
    await bothWays(h, { body: '{"message":"Hi"}', headers: { 'x-request-id': 'req-refused' } });
    for (const reqId of ['req-line', 'req-refused']) {
      const requestLines = lines.filter((line) => line.message === 'request' && line.fields.reqId === reqId);
      expect(requestLines).toHaveLength(2);
      const [listened, fetched] = requestLines.map(({ fields: { ms, ...rest } }) => {
        expect(ms).toEqual(expect.any(Number));
        return rest;
      });
      expect(listened).toEqual(fetched);
    }
    const refusals = lines.filter((line) => line.message === 'request refused');
    expect(refusals.map((line) => line.fields)).toEqual([
      expect.objectContaining({ reqId: 'req-refused', code: 'unauthorized', status: 401 }),
      expect.objectContaining({ reqId: 'req-refused', code: 'unauthorized', status: 401 }),
    ]);
  });
});

describe('what the app keeps answering', () => {
  it('runs middleware added to the app after it was built as Hono runs it', async () => {
    const h = await start();
    const seenPaths: string[] = [];
    h.server.app.use(async (c, next) => {
      seenPaths.push(`${c.req.method} ${c.req.path}`);
      await next();
    });
    h.server.app.get('/added', (c) => c.text('added'));
    // Hono runs handlers in the order they were added: the agent's route answers before it.
    const body = '{"message":"Hi","session_id":"later"}';
    const [listened, fetched] = await bothWays(h, { body, headers: alice }, { viaApp: true });
    expect(listened.status).toBe(200);
    expect(listened).toEqual(fetched);
    expect(seenPaths).toEqual([]);
    expect(await (await fetch(`${h.url}/added`, { headers: alice })).text()).toBe('added');
    expect(seenPaths).toEqual(['GET /added']);
  });

  it('uses an error handler set on the app after it was built', async () => {
    const h = await start();
    h.server.app.onError((_error, c) => c.json({ handled: true }, 418 as 400));
    const answer = await h.agent({ message: 'Hi' });
    expect(answer).toMatchObject({ status: 418, body: { handled: true } });
  });

  it('applies CORS and the cross-site guard to requests a browser sends', async () => {
    const h = await start({ auth: undefined, cors: { origin: 'https://app.example' } });
    const allowed = await h.agent({ message: 'Hi' }, { headers: { origin: 'https://app.example' } });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const refused = await h.agent({ message: 'Hi' }, { headers: { origin: 'https://evil.example' } });
    expect(refused.status).toBe(403);
    const site = await h.agent({ message: 'Hi' }, { headers: { 'sec-fetch-site': 'cross-site' } });
    expect(site.status).toBe(403);
  });

  it('reads a chunked body, and refuses one over the limit', async () => {
    const h = await start({ bodyLimit: 64 });
    const chunked = (text: string): ReadableStream<Uint8Array> =>
      new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(text));
          controller.close();
        },
      });
    const send = (text: string): Promise<Response> =>
      fetch(`${h.url}/agent`, {
        method: 'POST',
        headers: { ...alice, 'content-type': 'application/json' },
        body: chunked(text),
        duplex: 'half',
      } as RequestInit);
    expect((await send('{"message":"Hi"}')).status).toBe(200);
    expect((await send(JSON.stringify({ message: 'x'.repeat(100) }))).status).toBe(413);
    const declared = await h.agent({ message: 'x'.repeat(100) }, { token: 'token-alice' });
    expect(declared.status).toBe(413);
  });

  it('cancels the request of a client that goes away while sending its body, and keeps serving', async () => {
    const { logger, lines } = captureLogger();
    const h = await start({ logger });
    await leaveMidBody(
      h.listening,
      'POST /agent HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer token-alice\r\n' +
        'x-request-id: req-gone\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"message":',
    );
    await expect
      .poll(() => lines.find((line) => line.fields.reqId === 'req-gone' && line.message === 'request'))
      .toMatchObject({
        fields: { status: 499, principal: 'alice' },
      });
    expect(lines.find((line) => line.fields.reqId === 'req-gone' && line.level === 'error')).toBeUndefined();
    expect(h.fake.requests).toHaveLength(0);
    expect((await h.agent({ message: 'Hi' }, { token: 'token-alice' })).status).toBe(200);
  });
});

// Raw requests: the Node route of `POST /agent` (node-agent-route.ts) against the app: the same raw request is sent to
// `/agent` (which listen() answers on Node itself) and to `/agent?` (which it leaves to the app,
// through @hono/node-server: Hono's path is `/agent` too), on the same listening server.

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
function shown(answer: RawAnswer | undefined, compared: readonly string[] = COMPARED_HEADERS): unknown {
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

  it('refuses two Authorization headers when the first is not a token', async () => {
    const h = await start();
    const request = { body: HELLO, lines: ['Authorization: Bearer not-a-token', ALICE] };
    const before = h.appAnswered();
    const [[node], [app]] = await nodeAndApp(h.url, request);
    // The app answered both: the Node route leaves a repeated Authorization to it.
    expect(h.appAnswered() - before).toBe(2);
    expect(node?.status).toBe(401);
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
    for (const [target, reqId] of [
      ['/agent', 'gone-node'],
      ['/agent?', 'gone-app'],
    ] as const) {
      await leaveMidBody(
        h.listening,
        `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${ALICE}\r\nX-Request-Id: ${reqId}\r\n` +
          'Content-Length: 100\r\n\r\n{"message":',
      );
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
  it('joins repeated X-Request-Id and Idempotency-Key headers as the app does (so both refuse them)', async () => {
    const h = await start();
    const before = h.appAnswered();
    const [[node], [app]] = await nodeAndApp(h.url, {
      body: HELLO,
      lines: [ALICE, 'Idempotency-Key: k1', 'Idempotency-Key: k2', 'X-Request-Id: a', 'X-Request-Id: b'],
    });
    expect(h.appAnswered() - before).toBe(1);
    expect(node?.status).toBe(400);
    expect(shown(node)).toEqual(shown(app));
    expect(node?.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(app?.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
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
    const before = h.appAnswered();
    const [node, app] = await nodeAndApp(h.url, { body: HELLO, lines: [ALICE, 'Expect: 100-continue'] });
    expect(h.appAnswered() - before).toBe(1);
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

  it('writes the same lines for a request refused by the rate limit (its principal in both)', async () => {
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
    expect(requestLines[1]).toMatchObject({ fields: { status: 429, principal: 'alice' } });
  });

  it('answers while the code around it fakes timers, as the app does (and close() still ends)', async () => {
    // A test of an app built on the server may fake every timer (vitest's and jest's defaults fake
    // setImmediate too): its requests must still get their answers, with a model that needs no timer.
    const h = await start({
      model: {
        generate: async () => ({ content: 'Hello' }),
        async *stream() {
          yield { type: 'done' as const, response: { content: 'Hello' } };
        },
      },
    });
    vi.useFakeTimers();
    try {
      const before = h.appAnswered();
      const [node, app] = await nodeAndApp(h.url, { body: HELLO, lines: [ALICE] });
      expect(h.appAnswered() - before).toBe(1);
      expect(node.map((answer) => answer.status)).toEqual([200]);
      expect(node.map((answer) => shown(answer))).toEqual(app.map((answer) => shown(answer)));
    } finally {
      vi.useRealTimers();
    }
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
