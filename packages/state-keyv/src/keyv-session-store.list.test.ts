import type KeyvSqlite from '@keyv/sqlite';
import {
  type ChatEvent,
  type ChatModel,
  type ChatRequest,
  type ChatResponse,
  Session,
  type SessionSummary,
  SessionsError,
} from '@sessions/core';
import { rejectionOf, testMessage, testState } from '@sessions/testing';
import Keyv from 'keyv';
import { describe, expect, it } from 'vitest';
import { KeyvSessionStore, type KeyvSessionStoreDriver } from './index.js';
import { PlainAdapter } from './plain-adapter.test-helper.js';
import { recordStatements, redisCommand, useTestBackends } from './test-backends.test-helper.js';

const { track, redisKeyv, sqliteAdapter } = useTestBackends();

/** How the last message of a session is damaged: a value that is no message, or not even JSON. */
type Damage = 'not a message' | 'not JSON';

/** How a session's index entry and state are damaged: not even JSON, or JSON of the wrong shape. */
type EntryDamage = 'not JSON' | 'wrong shape';

/** One backend: a new, empty Keyv on it, and a way to damage a stored message behind the store's back. */
interface Backend {
  name: string;
  driver: KeyvSessionStoreDriver;
  /** `unsynced`: SQLite does not flush commits to disk (for tests that write many sessions). */
  keyv(unsynced?: boolean): Promise<Keyv>;
  /** Sessions the driver lists in one page of reads (`list` on more reads several). */
  page: number;
  /** Replaces message `seq` of the session, as stored, with damage. */
  damage(keyv: Keyv, sessionId: string, seq: number, damage: Damage): Promise<void>;
  /**
   * Replaces, as stored, what `list` reads of the session beside its last message (the index entry
   * and the state for the redis and sqlite drivers, the state for the generic one) with damage, so
   * that `load` reports it too.
   */
  damageState(keyv: Keyv, sessionId: string, damage: EntryDamage): Promise<void>;
}

/** A message key as stored by the sqlite and generic drivers (with Keyv's namespace). */
function messageKey(keyv: Keyv, sessionId: string, seq: number): string {
  return `${keyv.namespace}:sessions:${sessionId}:msg:${String(seq).padStart(10, '0')}`;
}

/** The damage as stored in Keyv's format (sqlite and generic drivers). */
function keyvStored(damage: Damage): string {
  return damage === 'not JSON' ? 'not json' : JSON.stringify({ value: { not: 'a message' } });
}

/** A key of the sqlite and generic drivers, under `{namespace}:sessions:` (Keyv's namespace). */
function sessionsKey(keyv: Keyv, rest: string): string {
  return `${keyv.namespace}:sessions:${rest}`;
}

/**
 * A damaged state or index entry in Keyv's format: not JSON, or a state of an unknown
 * `schemaVersion` (generic), or a value that is not a Keyv entry (sqlite's index entry).
 */
function keyvDamagedState(damage: EntryDamage, what: 'state' | 'entry'): string {
  if (damage === 'not JSON') return 'not json';
  return what === 'state' ? JSON.stringify({ value: { schemaVersion: 9, userId: 'u1' } }) : '{"not":"keyv"}';
}

/** Writes `raw` as stored at `key` of a generic backend (a `Map` or a `PlainAdapter`), behind the store's back. */
async function setRaw(keyv: Keyv, key: string, raw: string): Promise<void> {
  await (keyv.store as Map<string, unknown> | PlainAdapter).set(key, raw);
}

/** How the generic driver's backends (a Map, or another adapter) are damaged: the raw value set. */
const genericDamage: Pick<Backend, 'damage' | 'damageState'> = {
  async damage(keyv, sessionId, seq, damage) {
    await setRaw(keyv, messageKey(keyv, sessionId, seq), keyvStored(damage));
  },
  async damageState(keyv, sessionId, damage) {
    await setRaw(keyv, sessionsKey(keyv, `${sessionId}:state`), keyvDamagedState(damage, 'state'));
  },
};

let namespaces = 0;

const backends: Backend[] = [
  {
    name: 'in memory',
    driver: 'generic',
    page: 250,
    async keyv() {
      return new Keyv();
    },
    ...genericDamage,
  },
  {
    name: 'another persistent adapter',
    driver: 'generic',
    page: 250,
    async keyv(unsynced) {
      const sqlite = track(new Keyv({ store: await sqliteAdapter(unsynced) }));
      return new Keyv({ store: new PlainAdapter(sqlite.store as KeyvSqlite) });
    },
    ...genericDamage,
  },
  {
    name: 'SQLite',
    driver: 'sqlite',
    page: 500,
    async keyv(unsynced) {
      return track(new Keyv({ store: await sqliteAdapter(unsynced) }));
    },
    async damage(keyv, sessionId, seq, damage) {
      await (keyv.store as KeyvSqlite).query('UPDATE keyv SET value = $value WHERE key = $key', {
        $value: keyvStored(damage),
        $key: messageKey(keyv, sessionId, seq),
      });
    },
    async damageState(keyv, sessionId, damage) {
      for (const [key, what] of [
        [sessionsKey(keyv, `~sessions:${sessionId}`), 'entry'],
        [sessionsKey(keyv, `${sessionId}:state`), 'state'],
      ] as const) {
        await (keyv.store as KeyvSqlite).query('UPDATE keyv SET value = $value WHERE key = $key', {
          $value: keyvDamagedState(damage, what),
          $key: key,
        });
      }
    },
  },
  {
    name: 'Redis',
    driver: 'redis',
    page: 500,
    async keyv() {
      return redisKeyv(`list${++namespaces}`);
    },
    async damage(keyv, sessionId, seq, damage) {
      const ns = keyv.namespace;
      const value = damage === 'not JSON' ? 'not json' : '{"not":"a message"}';
      await redisCommand(keyv, [
        'LSET',
        `${ns}::${ns}:sessions:${sessionId}:messages`,
        String(seq - 1),
        value,
      ]);
    },
    async damageState(keyv, sessionId, damage) {
      const ns = keyv.namespace;
      const notJson = damage === 'not JSON';
      // An index entry that is no object, and a state of an unknown schemaVersion.
      await redisCommand(keyv, [
        'HSET',
        `${ns}::${ns}:sessions:~sessions`,
        sessionId,
        notJson ? 'not json' : '["u1"]',
      ]);
      await redisCommand(keyv, [
        'SET',
        `${ns}::${ns}:sessions:${sessionId}:state`,
        notJson ? 'not json' : '{"schemaVersion":9,"userId":"u1"}',
      ]);
    },
  },
];

/** Each listed session's `updatedAt`, by id. */
async function updatedAts(store: KeyvSessionStore): Promise<Record<string, string | undefined>> {
  const out: Record<string, string | undefined> = {};
  for await (const row of store.list()) out[row.sessionId] = row.updatedAt;
  return out;
}

async function rows(store: KeyvSessionStore): Promise<SessionSummary[]> {
  const out: SessionSummary[] = [];
  for await (const row of store.list()) out.push(row);
  return out;
}

const T1 = '2025-01-02T00:00:00.000Z'; // testState's updatedAt
const T2 = '2025-03-01T00:00:00.000Z';
const T3 = '2025-04-01T00:00:00.000Z';

/** A model that answers `echo: {last message}`. */
class EchoModel implements ChatModel {
  async generate(request: ChatRequest): Promise<ChatResponse> {
    return { content: `echo: ${request.messages.at(-1)?.content ?? ''}` };
  }

  async *stream(request: ChatRequest): AsyncIterable<ChatEvent> {
    yield { type: 'done', response: await this.generate(request) };
  }
}

describe.each(backends)('KeyvSessionStore.list() on $name ($driver driver)', (backend) => {
  it("list's updatedAt is the later of the state's and the last message's, as getContext() answers", async () => {
    const store = new KeyvSessionStore({ keyv: await backend.keyv() });
    expect(store.driver).toBe(backend.driver);
    // State at T1, then a turn at T2 that appends without rewriting the state.
    await store.saveState('after-state', testState('after-state'));
    await store.append('after-state', [
      testMessage(1, { createdAt: '2025-02-01T00:00:00.000Z' }),
      testMessage(2, { createdAt: T2 }),
    ]);
    // Only a state.
    await store.saveState('state-only', testState('state-only', { userId: 'u2' }));
    // A turn at T2, then the state written at T3.
    await store.append('state-after', [testMessage(1, { createdAt: T2 })]);
    await store.saveState('state-after', testState('state-after', { updatedAt: T3 }));
    // Only messages.
    await store.append('messages-only', [testMessage(1, { createdAt: T2 })]);
    // State at T1, messages older than it.
    await store.saveState('older-messages', testState('older-messages'));
    await store.append('older-messages', [testMessage(1)]); // 2025-01-01T00:00:01

    expect(await rows(store)).toEqual([
      { sessionId: 'after-state', userId: 'u1', createdAt: '2025-01-01T00:00:00.000Z', updatedAt: T2 },
      { sessionId: 'messages-only', userId: undefined, createdAt: undefined, updatedAt: T2 },
      { sessionId: 'older-messages', userId: 'u1', createdAt: '2025-01-01T00:00:00.000Z', updatedAt: T1 },
      { sessionId: 'state-after', userId: 'u1', createdAt: '2025-01-01T00:00:00.000Z', updatedAt: T3 },
      { sessionId: 'state-only', userId: 'u2', createdAt: '2025-01-01T00:00:00.000Z', updatedAt: T1 },
    ]);

    // A later append (keyed or not) moves it on; a later state write too.
    await store.append('after-state', [testMessage(3, { createdAt: T3 })], { idempotencyKey: 'turn-2' });
    await store.append('state-only', [testMessage(1, { createdAt: T3 })]);
    expect(await updatedAts(store)).toMatchObject({ 'after-state': T3, 'state-only': T3 });
    await store.saveState('after-state', testState('after-state', { updatedAt: '2025-05-01T00:00:00.000Z' }));
    expect((await updatedAts(store))['after-state']).toBe('2025-05-01T00:00:00.000Z');
    // The filter by user still reads each summary whole.
    const u2: SessionSummary[] = [];
    for await (const row of store.list({ userId: 'u2' })) u2.push(row);
    expect(u2).toEqual([
      { sessionId: 'state-only', userId: 'u2', createdAt: '2025-01-01T00:00:00.000Z', updatedAt: T3 },
    ]);
  });

  it("a Session's turn that leaves its state as it was: list's updatedAt is getContext()'s", async () => {
    const store = new KeyvSessionStore({ keyv: await backend.keyv() });
    let now = new Date(T1);
    const session = new Session({ sessionId: 'chat', store, model: new EchoModel(), now: () => now });
    await session.Agent({ name: 'A' }).chat('one'); // writes the state (its first) at T1
    expect((await updatedAts(store)).chat).toBe(T1);
    now = new Date(T2);
    await session.Agent({ name: 'A' }).chat('two'); // appends the turn at T2; the state is not rewritten
    expect((await store.load('chat'))?.state?.updatedAt).toBe(T1);
    expect(session.getContext().updatedAt).toBe(T2);
    expect((await updatedAts(store)).chat).toBe(session.getContext().updatedAt);
  });

  it('a damaged last message does not fail list(): the state’s updatedAt is answered', async () => {
    const keyv = await backend.keyv();
    const store = new KeyvSessionStore({ keyv });
    for (const id of ['a', 'b', 'c']) {
      await store.saveState(id, testState(id));
      await store.append(id, [testMessage(1, { createdAt: T2 }), testMessage(2, { createdAt: T3 })]);
    }
    await store.append('d', [testMessage(1, { createdAt: T2 })]); // no state
    await backend.damage(keyv, 'a', 2, 'not a message');
    await backend.damage(keyv, 'b', 2, 'not JSON');
    await backend.damage(keyv, 'd', 1, 'not JSON');
    expect(await updatedAts(store)).toEqual({ a: T1, b: T1, c: T3, d: undefined });
    // `load` still reports the damage.
    for (const id of ['a', 'b', 'd']) {
      const error = await rejectionOf(store.load(id));
      expect(SessionsError.is(error) && error.code, id).toBe('session_corrupt');
    }
  });

  it.each<EntryDamage>(['not JSON', 'wrong shape'])(
    'a damaged index entry or state (%s) does not fail list(): the session is listed with what can be read',
    async (damage) => {
      const keyv = await backend.keyv();
      const store = new KeyvSessionStore({ keyv });
      for (const id of ['a', 'b', 'c', 'd']) await store.saveState(id, testState(id, { userId: `u-${id}` }));
      await store.append('b', [testMessage(1, { createdAt: T2 })]);
      await store.append('c', [testMessage(1, { createdAt: T3 })]);
      await backend.damageState(keyv, 'b', damage);
      await backend.damageState(keyv, 'd', damage);
      const createdAt = '2025-01-01T00:00:00.000Z';
      // The healthy sessions as before; the damaged ones by id, with their last message's time if any.
      expect(await rows(store)).toEqual([
        { sessionId: 'a', userId: 'u-a', createdAt, updatedAt: T1 },
        { sessionId: 'b', userId: undefined, createdAt: undefined, updatedAt: T2 },
        { sessionId: 'c', userId: 'u-c', createdAt, updatedAt: T3 },
        { sessionId: 'd', userId: undefined, createdAt: undefined, updatedAt: undefined },
      ]);
      const forC: string[] = [];
      for await (const row of store.list({ userId: 'u-c' })) forC.push(row.sessionId);
      expect(forC).toEqual(['c']);
      // `load` still reports the damage; the healthy sessions load.
      for (const id of ['b', 'd']) {
        const error = await rejectionOf(store.load(id));
        expect(SessionsError.is(error) && error.code, id).toBe('session_corrupt');
      }
      expect((await store.load('c'))?.state?.userId).toBe('u-c');
    },
  );

  it('many sessions, over several pages: each summary has its own last message', async () => {
    const store = new KeyvSessionStore({ keyv: await backend.keyv(true) });
    const ids = Array.from({ length: backend.page + 20 }, (_, i) => `s${String(i).padStart(4, '0')}`);
    const at = (i: number): string => new Date(Date.UTC(2025, 2, 1, 0, 0, i)).toISOString();
    await Promise.all(
      ids.map(async (id, i) => {
        await store.saveState(id, testState(id));
        // Every third session has no message after its state; the others one each, at their own time.
        if (i % 3 !== 0) await store.append(id, [testMessage(i, { createdAt: at(i) })]);
      }),
    );
    const listed = await updatedAts(store);
    expect(Object.keys(listed)).toEqual(ids);
    expect(Object.values(listed)).toEqual(ids.map((_, i) => (i % 3 === 0 ? T1 : at(i))));
  });
});

describe.each(backends.filter((backend) => backend.driver === 'generic'))(
  'KeyvSessionStore.list() past damaged keys of the generic driver on $name',
  (backend) => {
    it('a damaged head lists the session from its state; a damaged index record leaves out only its session', async () => {
      const keyv = await backend.keyv();
      const store = new KeyvSessionStore({ keyv });
      for (const id of ['a', 'b', 'c']) {
        await store.saveState(id, testState(id));
        await store.append(id, [testMessage(1, { createdAt: T2 })]);
      }
      await setRaw(keyv, sessionsKey(keyv, 'a:head'), 'not json'); // its last message is then unknown
      await setRaw(keyv, sessionsKey(keyv, '~index:3'), 'not json'); // names 'c', made third
      expect(await rows(store)).toEqual([
        { sessionId: 'a', userId: 'u1', createdAt: '2025-01-01T00:00:00.000Z', updatedAt: T1 },
        { sessionId: 'b', userId: 'u1', createdAt: '2025-01-01T00:00:00.000Z', updatedAt: T2 },
      ]);
      const error = await rejectionOf(store.load('a'));
      expect(SessionsError.is(error) && error.code).toBe('session_corrupt');
      expect((await store.load('c'))?.messages).toHaveLength(1);
    });
  },
);

describe('KeyvSessionStore.list() reads no history', () => {
  it('sqlite driver: one statement per page, searched in the key index, never a scan of the table', async () => {
    const adapter = await sqliteAdapter();
    const keyv = track(new Keyv({ store: adapter }));
    const store = new KeyvSessionStore({ keyv });
    for (const id of ['s1', 's2']) {
      await store.saveState(id, testState(id));
      await store.append(id, [testMessage(1), testMessage(2, { createdAt: T2 })]);
    }
    const { statements, query } = recordStatements(adapter);
    expect(await updatedAts(store)).toEqual({ s1: T2, s2: T2 });
    expect(statements).toHaveLength(1);
    const [{ sql, params }] = statements as [{ sql: string; params: unknown }];
    const plan = (await query(`EXPLAIN QUERY PLAN ${sql}`, params)) as Array<{ detail: string }>;
    const details = plan.map((row) => row.detail);
    // The index entries, and each session's last message: both key ranges of the primary key's index.
    expect(details.filter((detail) => /SEARCH .*\(key>\? AND key<\?\)/.test(detail))).toHaveLength(2);
    expect(details.filter((detail) => /SCAN/.test(detail))).toEqual([]);
  });

  it('generic driver: the heads and states, then only the last message of each session', async () => {
    const reads: string[] = [];
    class CountingMap extends Map<string, unknown> {
      override get(key: string): unknown {
        reads.push(key);
        return super.get(key);
      }
    }
    const store = new KeyvSessionStore({ keyv: new Keyv({ store: new CountingMap() }) });
    await store.saveState('s1', testState('s1'));
    await store.append('s1', [testMessage(1), testMessage(2), testMessage(3, { createdAt: T2 })]);
    await store.append('s2', [testMessage(1), testMessage(2, { createdAt: T3 })]);
    await store.saveState('s3', testState('s3'));
    reads.length = 0;
    expect(await updatedAts(store)).toEqual({ s1: T2, s2: T3, s3: T1 });
    expect(reads.filter((key) => key.includes(':msg:')).sort()).toEqual([
      'keyv:sessions:s1:msg:0000000003',
      'keyv:sessions:s2:msg:0000000002',
    ]);
  });
});
