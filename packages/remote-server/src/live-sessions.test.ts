import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type HistoryCursor,
  MemorySessionStore,
  type Middleware,
  type SessionStore,
  type StoredTail,
} from '@sessions/core';
import { FsSessionStore } from '@sessions/state-fs';
import { testMessage } from '@sessions/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type AnyJson,
  type Harness,
  type HarnessOptions,
  readEvents,
  startHarness,
} from './server-harness.test-helper.js';

const harnesses: Harness[] = [];
const roots: string[] = [];
afterEach(async () => {
  for (const harness of harnesses.splice(0)) await harness.close();
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

async function start(options: HarnessOptions): Promise<Harness> {
  const harness = await startHarness(options);
  harnesses.push(harness);
  return harness;
}

/** Two stores on one place, as two server processes would have. */
const kinds: Array<{ name: string; pair: () => [SessionStore, SessionStore] }> = [
  {
    name: 'MemorySessionStore (one store, two servers)',
    pair: () => {
      const store = new MemorySessionStore();
      return [store, store];
    },
  },
  {
    name: 'FsSessionStore (two stores on one folder)',
    pair: () => {
      const root = mkdtempSync(join(tmpdir(), 'remote-live-'));
      roots.push(root);
      return [new FsSessionStore({ root }), new FsSessionStore({ root })];
    },
  },
];

/** What the model was sent on the server's last chat request, the system prompt left out. */
function lastPrompt(harness: Harness): string[] {
  const messages = harness.fake.chatRequests().at(-1)!.body.messages;
  return messages.filter((m) => m.role !== 'system').map((m) => String(m.content));
}

async function history(harness: Harness, sessionId: string, token?: string): Promise<string[]> {
  const page = await harness.call(`/sessions/${sessionId}/messages?limit=1000`, {
    ...(token !== undefined && { token }),
  });
  expect(page.status).toBe(200);
  return page.body.messages.map((m: AnyJson) => m.content);
}

/** The store with its reads counted. */
function counted(
  store: SessionStore,
): SessionStore & { loads: number; tails: Array<HistoryCursor | undefined> } {
  const counter = {
    loads: 0,
    tails: [] as Array<HistoryCursor | undefined>,
    load: (id: string) => {
      counter.loads += 1;
      return store.load(id);
    },
    loadSince: (id: string, cursor?: HistoryCursor): Promise<StoredTail | undefined> => {
      counter.tails.push(cursor);
      return store.loadSince!(id, cursor);
    },
    append: store.append.bind(store),
    saveState: store.saveState.bind(store),
    ...(store.updateState && { updateState: store.updateState.bind(store) }),
    list: store.list.bind(store),
    delete: store.delete.bind(store),
  };
  return counter;
}

describe.each(kinds)('live sessions on $name', ({ pair }) => {
  it('a turn through A, then B, then A again: A sees B’s turn, in the store’s order', async () => {
    const [storeA, storeB] = pair();
    const a = await start({ store: storeA });
    const b = await start({ store: storeB });
    for (const [server, text] of [
      [a, 'one'],
      [b, 'two'],
      [a, 'three'],
      [b, 'four'],
      [a, 'five'],
    ] as const) {
      const answer = await server.agent({ message: text, session_id: 'shared' });
      expect(answer.status).toBe(200);
    }
    const stored = ['one', 'echo: one', 'two', 'echo: two', 'three', 'echo: three', 'four', 'echo: four'];
    expect(lastPrompt(a)).toEqual([...stored, 'five']);
    expect(lastPrompt(b)).toEqual([...stored.slice(0, 6), 'four']);
    expect(await history(b, 'shared')).toEqual([...stored, 'five', 'echo: five']);
  });

  it('a session deleted through B and made again by another principal is not served by A’s kept session', async () => {
    const [storeA, storeB] = pair();
    const auth = { tokens: { 'alice-token': 'alice', 'bob-token': 'bob' } };
    const a = await start({ store: storeA, auth });
    const b = await start({ store: storeB, auth });
    expect((await a.agent({ message: 'mine', session_id: 'taken' }, { token: 'alice-token' })).status).toBe(
      200,
    );
    expect((await b.call('/sessions/taken', { method: 'DELETE', token: 'alice-token' })).status).toBe(204);
    expect((await b.agent({ message: 'now mine', session_id: 'taken' }, { token: 'bob-token' })).status).toBe(
      200,
    );
    // Alice's session on A is gone: the id is Bob's now, and invisible to her.
    const refused = await a.agent({ message: 'still mine?', session_id: 'taken' }, { token: 'alice-token' });
    expect(refused.status).toBe(404);
    expect(await history(a, 'taken', 'bob-token')).toEqual(['now mine', 'echo: now mine']);
    expect((await a.call('/sessions/taken', { token: 'alice-token' })).status).toBe(404);
  });

  it('a session deleted through B starts over on A', async () => {
    const [storeA, storeB] = pair();
    const a = await start({ store: storeA });
    const b = await start({ store: storeB });
    await a.agent({ message: 'old', session_id: 'again' });
    expect((await b.call('/sessions/again', { method: 'DELETE' })).status).toBe(204);
    expect((await a.agent({ message: 'new', session_id: 'again' })).status).toBe(200);
    expect(lastPrompt(a)).toEqual(['new']);
    expect(await history(b, 'again')).toEqual(['new', 'echo: new']);
  });

  it('a retried Idempotency-Key is stored once across servers, and A’s kept history holds it once', async () => {
    const [storeA, storeB] = pair();
    const a = await start({ store: storeA });
    const b = await start({ store: storeB });
    await a.agent({ message: 'first', session_id: 'keyed' });
    const headers = { 'idempotency-key': 'turn-42' };
    expect((await b.agent({ message: 'retried', session_id: 'keyed' }, { headers })).status).toBe(200);
    // The same key through A: A's own cache never saw it, the store has it.
    expect((await a.agent({ message: 'retried', session_id: 'keyed' }, { headers })).status).toBe(200);
    await a.agent({ message: 'last', session_id: 'keyed' });
    expect(lastPrompt(a)).toEqual(['first', 'echo: first', 'retried', 'echo: retried', 'last']);
    expect(await history(b, 'keyed')).toEqual([
      'first',
      'echo: first',
      'retried',
      'echo: retried',
      'last',
      'echo: last',
    ]);
  });

  it('a reused Idempotency-Key with another message is 409 on the other server too, and nothing is lost', async () => {
    const [storeA, storeB] = pair();
    const a = await start({ store: storeA });
    const b = await start({ store: storeB });
    const headers = { 'idempotency-key': 'reuse-1' };
    expect((await a.agent({ message: 'What is 2+2?', session_id: 'reused' }, { headers })).status).toBe(200);
    // B's cache never saw the key (another process, or A after a restart): the history tells.
    const asked = b.fake.chatRequests().length;
    const other = await b.agent({ message: 'Delete my account', session_id: 'reused' }, { headers });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('conflict');
    expect(b.fake.chatRequests()).toHaveLength(asked);
    expect(await history(b, 'reused')).toEqual(['What is 2+2?', 'echo: What is 2+2?']);
  });

  it('a retried Idempotency-Key answers what the other server stored, not a second model answer', async () => {
    const [storeA, storeB] = pair();
    const a = await start({ store: storeA });
    const b = await start({ store: storeB });
    await a.agent({ message: 'first', session_id: 'keyed' });
    const headers = { 'idempotency-key': 'turn-7' };
    b.fake.reply({ content: 'answer #1', usage: { prompt_tokens: 7, completion_tokens: 3 } });
    const stored = await b.agent({ message: 'once', session_id: 'keyed' }, { headers });
    expect(stored.body.content).toBe('answer #1');
    // A's own cache never saw the key (another process, or this one after a restart): the history
    // it loads holds B's turn, so A answers that without asking its model.
    a.fake.reply('answer #2');
    const asked = a.fake.chatRequests().length;
    const retried = await a.agent({ message: 'once', session_id: 'keyed' }, { headers });
    expect(retried.status).toBe(200);
    expect(retried.headers.get('idempotent-replayed')).toBe('true');
    expect(a.fake.chatRequests()).toHaveLength(asked);
    expect(retried.body).toMatchObject({ content: 'answer #1', response: 'answer #1', session_id: 'keyed' });
    expect(retried.body.metadata.usage).toEqual({ inputTokens: 7, outputTokens: 3, totalTokens: 10 });
    expect(await history(a, 'keyed')).toEqual(['first', 'echo: first', 'once', 'answer #1']);

    // The same through a stream: the done event carries the stored answer.
    const streamHeaders = { 'idempotency-key': 'turn-8', accept: 'text/event-stream' };
    b.fake.reply('streamed #1');
    await readEvents(
      await b.request('/agent', { json: { message: 'again', session_id: 'keyed' }, headers: streamHeaders }),
    );
    a.fake.reply('streamed #2');
    const response = await a.request('/agent', {
      json: { message: 'again', session_id: 'keyed' },
      headers: streamHeaders,
    });
    expect(response.headers.get('idempotent-replayed')).toBe('true');
    const events = await readEvents(response);
    expect(events.map((event) => event.event)).toEqual(['delta', 'done']);
    expect(events[0]).toMatchObject({ data: { delta: 'streamed #1' } });
    expect(events.at(-1)).toMatchObject({ event: 'done', data: { content: 'streamed #1' } });
    expect(a.fake.chatRequests()).toHaveLength(asked);
    expect(await history(b, 'keyed')).toEqual([
      'first',
      'echo: first',
      'once',
      'answer #1',
      'again',
      'streamed #1',
    ]);
  });

  it('state changed through both servers keeps every key and counts every increment', async () => {
    const [storeA, storeB] = pair();
    const a = await start({ store: storeA });
    const b = await start({ store: storeB });
    await a.agent({ message: 'hello', session_id: 'stateful' });
    await b.agent({ message: 'hello again', session_id: 'stateful' });
    expect(
      (await a.call('/sessions/stateful/state', { method: 'PATCH', json: { fromA: true } })).status,
    ).toBe(200);
    expect(
      (await b.call('/sessions/stateful/state', { method: 'PATCH', json: { fromB: true } })).status,
    ).toBe(200);
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, n) =>
        (n % 2 === 0 ? a : b).call('/sessions/stateful/state/visits/increment', { method: 'POST', json: {} }),
      ),
    );
    expect(answers.map((answer) => answer.body.value).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 10 }, (_, n) => n + 1),
    );
    const after = await a.agent({ message: 'and again', session_id: 'stateful' });
    expect(after.status).toBe(200);
    expect((await b.call('/sessions/stateful/state')).body.state).toEqual({
      fromA: true,
      fromB: true,
      visits: 10,
    });
  });

  it('many concurrent turns on one session through both servers: each stored once, and A’s next prompt is the whole history', async () => {
    const [storeA, storeB] = pair();
    const a = await start({ store: storeA });
    const b = await start({ store: storeB });
    await a.agent({ message: 'start', session_id: 'busy' });
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, n) =>
        (n % 3 === 0 ? b : a).agent({ message: `turn ${n}`, session_id: 'busy' }),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
    const stored = await history(b, 'busy');
    expect(stored).toHaveLength(62);
    const users = stored.filter((text) => !text.startsWith('echo: '));
    expect(users.sort()).toEqual(['start', ...Array.from({ length: 30 }, (_, n) => `turn ${n}`)].sort());
    await a.agent({ message: 'after', session_id: 'busy' });
    expect(lastPrompt(a)).toEqual([...stored, 'after']);
  });
});

describe('live sessions', () => {
  it('a kept session’s turn reads the store once, after its cursor, and never loads it whole', async () => {
    const store = counted(new MemorySessionStore());
    const harness = await start({ store });
    for (let n = 0; n < 3; n++) await harness.agent({ message: `warm ${n}`, session_id: 'kept' });
    store.loads = 0;
    store.tails.length = 0;
    for (let n = 0; n < 5; n++) await harness.agent({ message: `turn ${n}`, session_id: 'kept' });
    expect(store.loads).toBe(0);
    expect(store.tails).toHaveLength(5);
    expect(store.tails.map((cursor) => cursor?.seq)).toEqual([6, 8, 10, 12, 14]);
  });

  it('with liveSessions: 0 every turn loads its session, and answers the same', async () => {
    const store = counted(new MemorySessionStore());
    const harness = await start({ store, liveSessions: 0 });
    for (let n = 0; n < 3; n++) await harness.agent({ message: `turn ${n}`, session_id: 'cold' });
    expect(store.tails.filter((cursor) => cursor !== undefined)).toEqual([]);
    expect(await history(harness, 'cold')).toEqual([
      'turn 0',
      'echo: turn 0',
      'turn 1',
      'echo: turn 1',
      'turn 2',
      'echo: turn 2',
    ]);
  });

  it('refuses a liveSessions that is not a whole number', async () => {
    await expect(start({ liveSessions: -1 })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(start({ liveSessions: 1.5 })).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('a turn naming another user than the session’s is refused with 409; its own user or none runs', async () => {
    const users: string[] = [];
    const spy: Middleware = async function spy(turn, next) {
      users.push(turn.userId);
      return next();
    };
    const harness = await start({ middleware: [spy] });
    await harness.agent({ message: 'hi', session_id: 'who', user_id: 'ada' });
    await harness.agent({ message: 'hi', session_id: 'who' });
    const refused = await harness.agent({ message: 'hi', session_id: 'who', user_id: 'grace' });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toEqual({
      code: 'conflict',
      message:
        'Session "who" belongs to user "ada": a turn may not name another user_id ("grace"); start a new session for that user',
      request_id: expect.any(String),
    });
    await harness.agent({ message: 'hi', session_id: 'who', user_id: 'ada' });
    await harness.agent({ message: 'hi', session_id: 'who' });
    expect(users).toEqual(['ada', 'ada', 'ada', 'ada']);
    expect((await harness.call('/sessions/who')).body).toMatchObject({ userId: 'ada', messageCount: 8 });
  });

  it('a turn naming a user on a stored session that has no state yet runs as that user', async () => {
    const store = new MemorySessionStore();
    await store.append('no-state', [testMessage(1)]);
    const harness = await start({ store });
    const answer = await harness.agent({ message: 'hi', session_id: 'no-state', user_id: 'ada' });
    expect(answer.status).toBe(200);
    expect((await harness.call('/sessions/no-state')).body).toMatchObject({ userId: 'ada', messageCount: 3 });
  });

  it('evicts the least recently used sessions beyond liveSessions and still answers them', async () => {
    const store = counted(new MemorySessionStore());
    const harness = await start({ store, liveSessions: 2 });
    for (const id of ['s1', 's2', 's3', 's1']) await harness.agent({ message: id, session_id: id });
    // s1 was evicted by s3: its second turn loaded it whole (no cursor) and then kept it.
    expect(store.tails.at(-1)).toBeUndefined();
    await harness.agent({ message: 'again', session_id: 's1' });
    expect(store.tails.at(-1)).toMatchObject({ seq: 4 });
    expect(await history(harness, 's1')).toEqual([
      's1',
      'echo: s1',
      's1',
      'echo: s1',
      'again',
      'echo: again',
    ]);
  });
});
