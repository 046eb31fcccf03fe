import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import KeyvRedis from '@keyv/redis';
import KeyvSqlite from '@keyv/sqlite';
import { type Message, SessionsError } from '@sessions/core';
import { rejectionOf, testMessage, testState } from '@sessions/testing';
import Keyv from 'keyv';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { KeyvSessionStore } from './index.js';
import { PlainAdapter } from './plain-adapter.test-helper.js';

const temps: string[] = [];
const opened: Keyv[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((keyv) => keyv.disconnect()));
});
afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tempFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'state-keyv-'));
  temps.push(dir);
  return join(dir, 'sessions.sqlite');
}

function sqlite(file: string): Keyv {
  const keyv = new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${file}` }) });
  opened.push(keyv);
  return keyv;
}

async function ids(list: AsyncIterable<{ sessionId: string }>): Promise<string[]> {
  const out: string[] = [];
  for await (const row of list) out.push(row.sessionId);
  return out;
}

/** A plain adapter that fails the writes (or reads) of keys matching a pattern, on demand. */
class FailingAdapter extends PlainAdapter {
  failSet: RegExp | undefined;
  failGet: RegExp | undefined;

  override async set(key: string, value: unknown): Promise<void> {
    if (this.failSet?.test(key)) throw new Error(`disk full writing ${key}`);
    await super.set(key, value);
  }

  override async get(key: string): Promise<unknown> {
    if (this.failGet?.test(key)) throw new Error(`connection lost reading ${key}`);
    return super.get(key);
  }

  override async getMany(keys: string[]): Promise<unknown[]> {
    const failing = keys.find((key) => this.failGet?.test(key));
    if (failing) throw new Error(`connection lost reading ${failing}`);
    return super.getMany(keys);
  }
}

describe('KeyvSessionStore options', () => {
  it('picks the driver from the adapter and says whether several processes are safe', async () => {
    const memory = new KeyvSessionStore({ keyv: new Keyv() });
    expect([memory.driver, memory.multiProcess, memory.prefix]).toEqual(['generic', false, 'sessions']);
    const onSqlite = new KeyvSessionStore({ keyv: sqlite(await tempFile()) });
    expect([onSqlite.driver, onSqlite.multiProcess]).toEqual(['sqlite', true]);
    // @keyv/redis connects lazily: making the store does not need a server.
    const onRedis = new KeyvSessionStore({ keyv: new Keyv({ store: new KeyvRedis('redis://127.0.0.1:1') }) });
    expect([onRedis.driver, onRedis.multiProcess]).toEqual(['redis', true]);
  });

  it('requireMultiProcess refuses an adapter without atomic operations', async () => {
    expect(() => new KeyvSessionStore({ keyv: new Keyv(), requireMultiProcess: true })).toThrow(
      /only one process may write/,
    );
    const store = new KeyvSessionStore({ keyv: sqlite(await tempFile()), requireMultiProcess: true });
    expect(store.driver).toBe('sqlite');
  });

  it('refuses bad options with invalid_input', () => {
    const bad: unknown[] = [
      undefined,
      {},
      { keyv: new Map() },
      { keyv: new Keyv(), prefix: '' },
      { keyv: new Keyv(), prefix: 'a:b' },
      { keyv: new Keyv(), prefix: 'x'.repeat(33) },
      { keyv: new Keyv(), busyTimeoutMs: -1 },
      { keyv: new Keyv(), writerLeaseMs: Number.NaN },
    ];
    for (const options of bad) {
      let error: unknown;
      try {
        new KeyvSessionStore(options as never);
      } catch (caught) {
        error = caught;
      }
      expect(SessionsError.is(error) && error.code, JSON.stringify(options)).toBe('invalid_input');
    }
  });
});

describe.each([
  ['in memory', async (): Promise<Keyv> => new Keyv()],
  ['SQLite', async (): Promise<Keyv> => sqlite(await tempFile())],
])('KeyvSessionStore %s', (_name, makeKeyv) => {
  it("stores values in Keyv's own format: keyv.get reads the state and the messages", async () => {
    const keyv = await makeKeyv();
    const store = new KeyvSessionStore({ keyv });
    await store.saveState('s1', testState('s1', { data: { topic: 'AI' } }));
    await store.append('s1', [testMessage(1), testMessage(2)]);
    expect(await keyv.get('sessions:s1:state')).toEqual(testState('s1', { data: { topic: 'AI' } }));
    expect(await keyv.get('sessions:s1:msg:0000000002')).toEqual(testMessage(2));
  });

  it('keeps strings Keyv escapes (leading ":" and ":base64:") as they were', async () => {
    const store = new KeyvSessionStore({ keyv: await makeKeyv() });
    const tricky = [
      testMessage(1, { content: ':starts with a colon' }),
      testMessage(2, { content: ':base64:aGVsbG8=', metadata: { tag: '::double' } }),
    ];
    await store.append('s1', tricky);
    await store.saveState('s1', testState('s1', { data: { note: ':base64:AAAA' } }));
    const loaded = await store.load('s1');
    expect(loaded?.messages).toEqual(tricky);
    expect(loaded?.state?.data).toEqual({ note: ':base64:AAAA' });
  });

  it('stores with different prefixes on one Keyv do not see each other', async () => {
    const keyv = await makeKeyv();
    const a = new KeyvSessionStore({ keyv, prefix: 'a' });
    const b = new KeyvSessionStore({ keyv, prefix: 'b' });
    await a.append('s1', [testMessage(1)]);
    await b.saveState('s2', testState('s2'));
    expect(await b.load('s1')).toBeUndefined();
    expect(await ids(a.list())).toEqual(['s1']);
    expect(await ids(b.list())).toEqual(['s2']);
  });

  it('an empty append stores nothing and returns the count', async () => {
    const store = new KeyvSessionStore({ keyv: await makeKeyv() });
    expect(await store.append('s1', [])).toEqual({ seq: 0 });
    expect(await store.load('s1')).toBeUndefined();
    expect(await ids(store.list())).toEqual([]);
    await store.append('s1', [testMessage(1)], { idempotencyKey: 'k' });
    expect(await store.append('s1', [])).toEqual({ seq: 1 });
    expect(await store.append('s1', [], { idempotencyKey: 'k' })).toEqual({ seq: 1, replayed: true });
    // An empty keyed append with a new key stores nothing, and records nothing.
    expect(await store.append('s1', [], { idempotencyKey: 'new' })).toEqual({ seq: 1, replayed: false });
    expect(await store.append('s1', [testMessage(2)], { idempotencyKey: 'new' })).toEqual({
      seq: 2,
      replayed: false,
    });
  });

  it('one append of 2 500 messages', async () => {
    const store = new KeyvSessionStore({ keyv: await makeKeyv() });
    const many = Array.from({ length: 2_500 }, (_, i) => testMessage(i));
    expect(await store.append('big', many)).toEqual({ seq: 2_500 });
    expect(await store.append('big', [testMessage(9_999)])).toEqual({ seq: 2_501 });
    expect((await store.load('big'))?.messages).toEqual([...many, testMessage(9_999)]);
  });

  it('list follows a changed userId and is sorted by id', async () => {
    const store = new KeyvSessionStore({ keyv: await makeKeyv() });
    for (const id of ['c', 'a', 'b']) await store.saveState(id, testState(id));
    expect(await ids(store.list())).toEqual(['a', 'b', 'c']);
    await store.saveState('a', testState('a', { userId: 'u2' }));
    expect(await ids(store.list({ userId: 'u1' }))).toEqual(['b', 'c']);
    expect(await ids(store.list({ userId: 'u2' }))).toEqual(['a']);
    await store.delete('b');
    await store.saveState('b', testState('b', { userId: 'u2' }));
    expect(await ids(store.list({ userId: 'u2' }))).toEqual(['a', 'b']);
  });

  it('refuses messages that are not messages or not JSON, and a bad idempotencyKey', async () => {
    const store = new KeyvSessionStore({ keyv: await makeKeyv() });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const bad: unknown[] = [
      'hello',
      [{ role: 'user', content: 'no id', createdAt: 'x' }],
      [testMessage(1, { role: 'robot' as never })],
      [testMessage(1, { metadata: circular })],
      [testMessage(1, { metadata: { n: 10n } as never })],
    ];
    for (const messages of bad) {
      expect(await rejectionOf(store.append('s1', messages as Message[]))).toMatchObject({
        code: 'invalid_input',
      });
    }
    expect(
      await rejectionOf(store.append('s1', [testMessage(1)], { idempotencyKey: 42 as never })),
    ).toMatchObject({
      code: 'invalid_input',
    });
    expect(
      await rejectionOf(store.saveState('s1', { ...testState('s1'), schemaVersion: 2 as never })),
    ).toMatchObject({
      code: 'invalid_input',
    });
    expect(await store.load('s1')).toBeUndefined();
  });

  it('a long, odd idempotency key works', async () => {
    const store = new KeyvSessionStore({ keyv: await makeKeyv() });
    const key = `${'é:/'.repeat(400)}\n\u0000`;
    expect(await store.append('s1', [testMessage(1)], { idempotencyKey: key })).toEqual({
      seq: 1,
      replayed: false,
    });
    expect(await store.append('s1', [testMessage(1)], { idempotencyKey: key })).toEqual({
      seq: 1,
      replayed: true,
    });
    expect(await store.append('s1', [testMessage(2)], { idempotencyKey: `${key}x` })).toEqual({
      seq: 2,
      replayed: false,
    });
  });
});

describe('KeyvSessionStore on SQLite', () => {
  it('survives a restart: history, state and idempotency keys', async () => {
    const file = await tempFile();
    const first = new KeyvSessionStore({ keyv: sqlite(file) });
    await first.append('s1', [testMessage(1), testMessage(2)], { idempotencyKey: 'turn-1' });
    await first.saveState('s1', testState('s1'));
    await opened.pop()!.disconnect();

    const second = new KeyvSessionStore({ keyv: sqlite(file) });
    expect(await second.load('s1')).toEqual({
      state: testState('s1'),
      messages: [testMessage(1), testMessage(2)],
    });
    expect(await second.append('s1', [testMessage(1), testMessage(2)], { idempotencyKey: 'turn-1' })).toEqual(
      { seq: 2, replayed: true },
    );
    expect(await second.append('s1', [testMessage(3)])).toEqual({ seq: 3 });
    expect(await ids(second.list({ userId: 'u1' }))).toEqual(['s1']);
  });

  it('delete removes every row of the session and nothing else', async () => {
    const keyv = sqlite(await tempFile());
    const store = new KeyvSessionStore({ keyv });
    await keyv.set('unrelated', 1);
    for (const id of ['s1', 's1.x', 's2']) {
      await store.saveState(id, testState(id));
      await store.append(id, [testMessage(1)], { idempotencyKey: 'k' });
    }
    await store.delete('s1');
    const query = (keyv.store as KeyvSqlite).query;
    const rows = (await query('SELECT key FROM keyv ORDER BY key')) as Array<{ key: string }>;
    const keys = rows.map((row) => row.key);
    expect(keys.filter((key) => /s1[:;]|~sessions:s1$/.test(key))).toEqual([]);
    expect(keys).toContain('keyv:unrelated');
    // state, epoch, message, idempotency key
    expect(keys.filter((key) => key.includes(':s1.x:'))).toHaveLength(4);
    expect(keys.filter((key) => key.includes(':s2:'))).toHaveLength(4);
  });

  it('reports a corrupt row as session_corrupt naming its key', async () => {
    const keyv = sqlite(await tempFile());
    const store = new KeyvSessionStore({ keyv });
    await store.append('s1', [testMessage(1)]);
    await store.saveState('s2', testState('s2'));
    const query = (keyv.store as KeyvSqlite).query;
    await query(
      `UPDATE keyv SET value = '{"value":{"id":"x"}}' WHERE key = 'keyv:sessions:s1:msg:0000000001'`,
    );
    await query(`UPDATE keyv SET value = 'not json' WHERE key = 'keyv:sessions:s2:state'`);
    expect(await rejectionOf(store.load('s1'))).toMatchObject({
      code: 'session_corrupt',
      file: 'keyv:sessions:s1:msg:0000000001',
    });
    expect(await rejectionOf(store.load('s2'))).toMatchObject({
      code: 'session_corrupt',
      file: 'keyv:sessions:s2:state',
    });
  });

  it('waits for a database locked by another connection, and times out with a TimeoutError', async () => {
    const file = await tempFile();
    const store = new KeyvSessionStore({ keyv: sqlite(file), busyTimeoutMs: 300 });
    await store.append('s1', [testMessage(1)]);
    const other = sqlite(file);
    const lock = (other.store as KeyvSqlite).query;
    await lock('BEGIN EXCLUSIVE');
    expect(await rejectionOf(store.append('s1', [testMessage(2)]))).toMatchObject({ code: 'timeout' });
    const patient = new KeyvSessionStore({ keyv: store.keyv }); // busyTimeoutMs: 30 s
    const waiting = patient.append('s1', [testMessage(3)]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await lock('COMMIT');
    expect(await waiting).toEqual({ seq: 2 });
    expect((await store.load('s1'))?.messages.map((m) => m.id)).toEqual(['msg_1', 'msg_3']);
  });
});

describe('KeyvSessionStore on a generic adapter', () => {
  async function failing(): Promise<{ store: KeyvSessionStore; adapter: FailingAdapter; keyv: Keyv }> {
    const inner = sqlite(await tempFile());
    const adapter = new FailingAdapter(inner.store as KeyvSqlite);
    const keyv = new Keyv({ store: adapter });
    return { store: new KeyvSessionStore({ keyv }), adapter, keyv };
  }

  it('throws adapter errors that Keyv would swallow, and then writes nothing', async () => {
    const { store, adapter } = await failing();
    await store.append('s1', [testMessage(1)]);
    adapter.failGet = /:s1:head$/;
    // Keyv's get would resolve undefined here: the append would overwrite message 1.
    expect(await rejectionOf(store.append('s1', [testMessage(2)]))).toMatchObject({
      message: /connection lost/,
    });
    expect(await rejectionOf(store.load('s1'))).toMatchObject({ message: /connection lost/ });
    adapter.failGet = undefined;
    adapter.failSet = /:s1:msg:/;
    expect(await rejectionOf(store.append('s1', [testMessage(3)]))).toMatchObject({ message: /disk full/ });
    adapter.failSet = undefined;
    expect((await store.load('s1'))?.messages).toEqual([testMessage(1)]);
  });

  it('an append cut short before its head is written is invisible, and its idempotency key does not count', async () => {
    const { store, adapter } = await failing();
    await store.append('s1', [testMessage(1)]);
    adapter.failSet = /:s1:head$/; // dies at the commit point: messages and key record are written
    expect(
      await rejectionOf(store.append('s1', [testMessage(2)], { idempotencyKey: 'turn-2' })),
    ).toBeInstanceOf(Error);
    adapter.failSet = undefined;
    expect((await store.load('s1'))?.messages).toEqual([testMessage(1)]);
    // Another append takes seq 2; the retry of turn-2 is then stored, not mistaken for done.
    expect(await store.append('s1', [testMessage(3)])).toEqual({ seq: 2 });
    expect(await store.append('s1', [testMessage(2)], { idempotencyKey: 'turn-2' })).toEqual({
      seq: 3,
      replayed: false,
    });
    expect(await store.append('s1', [testMessage(2)], { idempotencyKey: 'turn-2' })).toEqual({
      seq: 3,
      replayed: true,
    });
    expect((await store.load('s1'))?.messages.map((m) => m.id)).toEqual(['msg_1', 'msg_3', 'msg_2']);
  });

  it('delete removes every key of the session', async () => {
    const keyv = new Keyv();
    const store = new KeyvSessionStore({ keyv });
    await store.saveState('s1', testState('s1'));
    await store.append('s1', [testMessage(1), testMessage(2)], { idempotencyKey: 'a' });
    await store.append('s1', [testMessage(3)], { idempotencyKey: 'b' });
    await store.append('s2', [testMessage(4)]);
    const map = keyv.store as Map<string, unknown>;
    expect([...map.keys()].filter((key) => key.includes(':s1:')).length).toBe(9);
    await store.delete('s1');
    expect([...map.keys()].filter((key) => key.includes(':s1:'))).toEqual([]);
    expect(await ids(store.list())).toEqual(['s2']);
  });

  it('reports a corrupt head as session_corrupt', async () => {
    const keyv = new Keyv();
    const store = new KeyvSessionStore({ keyv });
    await store.append('s1', [testMessage(1)]);
    await keyv.set('sessions:s1:head', { count: 'many' });
    expect(await rejectionOf(store.load('s1'))).toMatchObject({
      code: 'session_corrupt',
      file: 'keyv:sessions:s1:head',
    });
    await keyv.set('sessions:s1:head', { count: 2, keys: 0 });
    expect(await rejectionOf(store.load('s1'))).toMatchObject({
      code: 'session_corrupt',
      file: 'keyv:sessions:s1:msg:0000000002',
    });
  });

  it('two stores on one in-memory Keyv share its lock: concurrent appends lose nothing', async () => {
    const keyv = new Keyv();
    const a = new KeyvSessionStore({ keyv });
    const b = new KeyvSessionStore({ keyv });
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).append('s1', [testMessage(i)])),
    );
    expect(results.map((r) => r.seq).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    expect((await a.load('s1'))?.messages).toHaveLength(100);
  });
});

describe('KeyvSessionStore on an unreachable Redis', () => {
  /** A port on 127.0.0.1 that nothing listens on: one just freed. */
  async function closedPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((done) => server.close(() => done()));
    return port;
  }

  it("rejects at once with the README's connectionTimeout, and again on the next call", async () => {
    const adapter = new KeyvRedis(`redis://127.0.0.1:${await closedPort()}`, { connectionTimeout: 1_000 });
    const keyv = new Keyv({ store: adapter, namespace: 'sessions' });
    const errors: unknown[] = [];
    keyv.on('error', (error) => errors.push(error)); // @keyv/redis also emits what it throws
    const store = new KeyvSessionStore({ keyv });
    const load = await rejectionOf(store.load('a'));
    expect((load as Error).message).toMatch(/not connected or has failed to connect/);
    expect(await rejectionOf(store.append('a', [testMessage(1)]))).toBeInstanceOf(Error);
    expect(errors.length).toBeGreaterThan(0);
    await store.close();
  });
});
