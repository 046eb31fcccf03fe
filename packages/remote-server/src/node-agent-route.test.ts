import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AnyJson,
  captureLogger,
  type Harness,
  type HarnessOptions,
  jsonOf,
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
 * the plain case itself) and through the app's `fetch` (Hono, as any other host runs it).
 */
async function bothWays(h: Harness, sent: Sent): Promise<[Seen, Seen]> {
  const init = (): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/json', ...sent.headers },
    body: sent.body ?? null,
  });
  const requestId = sent.headers?.['x-request-id'];
  const listened = await seen(await fetch(`${h.url}/agent`, init()), requestId);
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
    const [listened, fetched] = await bothWays(h, { body, headers: alice });
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
    const { port } = new URL(h.url);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(
          'POST /agent HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer token-alice\r\n' +
            'x-request-id: req-gone\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"message":',
          () => setTimeout(() => socket.destroy(), 20),
        );
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
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
