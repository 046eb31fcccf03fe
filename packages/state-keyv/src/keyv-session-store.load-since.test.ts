import KeyvSqlite from '@keyv/sqlite';
import {
  type ChatEvent,
  type ChatModel,
  type ChatRequest,
  type ChatResponse,
  type HistoryCursor,
  Session,
  type SessionState,
  SessionsError,
  type StoredTail,
} from '@sessions/core';
import { rejectionOf, testMessage, testState } from '@sessions/testing';
import Keyv from 'keyv';
import { describe, expect, it } from 'vitest';
import { KeyvSessionStore, type KeyvSessionStoreDriver } from './index.js';
import { recordStatements, redisCommand, useTestBackends } from './test-backends.test-helper.js';

const { track, redisKeyv, sqliteUri, sqliteAdapter } = useTestBackends();

/** A Map that counts the reads of the generic driver (on a `Map` it reads key by key). */
class CountingMap extends Map<string, unknown> {
  reads: string[] = [];

  override get(key: string): unknown {
    this.reads.push(key);
    return super.get(key);
  }
}

/** One backend: a Keyv on it, and ways to damage or age what the store wrote. */
interface Backend {
  driver: KeyvSessionStoreDriver;
  /** A new, empty database: each call to the function it returns opens another Keyv on it. */
  database(): Promise<() => Keyv>;
  /** Makes message 1 of the session unreadable. */
  corruptFirst(keyv: Keyv, sessionId: string): Promise<void>;
  /** Leaves the session as a version without `loadSince` would have: no epoch. */
  dropEpoch(keyv: Keyv, sessionId: string): Promise<void>;
  /** Makes the stored state unreadable, behind the store's back (its version is left as it was). */
  corruptState(keyv: Keyv, sessionId: string): Promise<void>;
  /**
   * Writes the state as the version of this package before state versions did (redis and sqlite:
   * several versions may share their database during an upgrade).
   */
  olderSaveState?(keyv: Keyv, sessionId: string, state: SessionState): Promise<void>;
}

let namespaces = 0;

const backends: Record<KeyvSessionStoreDriver, Backend> = {
  generic: {
    driver: 'generic',
    async database() {
      const map = new CountingMap();
      return () => new Keyv({ store: map });
    },
    async corruptFirst(keyv, sessionId) {
      await keyv.set(`sessions:${sessionId}:msg:0000000001`, { not: 'a message' });
    },
    async dropEpoch(keyv, sessionId) {
      const head = (await keyv.get(`sessions:${sessionId}:head`)) as { count: number; keys: number };
      await keyv.set(`sessions:${sessionId}:head`, { count: head.count, keys: head.keys });
    },
    async corruptState(keyv, sessionId) {
      await keyv.set(`sessions:${sessionId}:state`, { not: 'a state' });
    },
  },
  sqlite: {
    driver: 'sqlite',
    async database() {
      const uri = await sqliteUri();
      return () => track(new Keyv({ store: new KeyvSqlite({ uri }) }));
    },
    async corruptFirst(keyv, sessionId) {
      await keyv.set(`sessions:${sessionId}:msg:0000000001`, { not: 'a message' });
    },
    async dropEpoch(keyv, sessionId) {
      expect(await keyv.delete(`sessions:${sessionId}:epoch`)).toBe(true);
    },
    async corruptState(keyv, sessionId) {
      await keyv.set(`sessions:${sessionId}:state`, { not: 'a state' });
    },
    async olderSaveState(keyv, sessionId, state) {
      // The state row and its index entry without a version (the epoch row is kept).
      await keyv.set(`sessions:${sessionId}:state`, state);
      const { userId, createdAt, updatedAt } = state;
      await keyv.set(`sessions:~sessions:${sessionId}`, { userId, createdAt, updatedAt });
    },
  },
  redis: {
    driver: 'redis',
    async database() {
      const namespace = `since${++namespaces}`;
      return () => redisKeyv(namespace);
    },
    async corruptFirst(keyv, sessionId) {
      const ns = keyv.namespace;
      await redisCommand(keyv, ['LSET', `${ns}::${ns}:sessions:${sessionId}:messages`, '0', 'not json']);
    },
    async dropEpoch(keyv, sessionId) {
      // What an older version's saveState writes: the entry without the epoch.
      const ns = keyv.namespace;
      await redisCommand(keyv, ['HSET', `${ns}::${ns}:sessions:~sessions`, sessionId, '{"userId":"u1"}']);
    },
    async corruptState(keyv, sessionId) {
      const ns = keyv.namespace;
      await redisCommand(keyv, ['SET', `${ns}::${ns}:sessions:${sessionId}:state`, 'not json']);
    },
    async olderSaveState(keyv, sessionId, state) {
      // The state, and the index entry rewritten with its epoch kept and no version.
      const ns = keyv.namespace;
      const index = `${ns}::${ns}:sessions:~sessions`;
      const { epoch } = JSON.parse((await redisCommand(keyv, ['HGET', index, sessionId])) as string);
      const { userId, createdAt, updatedAt } = state;
      await redisCommand(keyv, ['SET', `${ns}::${ns}:sessions:${sessionId}:state`, JSON.stringify(state)]);
      await redisCommand(keyv, [
        'HSET',
        index,
        sessionId,
        JSON.stringify({ epoch, userId, createdAt, updatedAt }),
      ]);
    },
  },
};

/** The cursor a tail leaves: where it ends, and the version of its state. */
function cursorOf(tail: StoredTail | undefined): HistoryCursor {
  const cursor: HistoryCursor = { seq: tail!.seq, epoch: tail!.epoch };
  if (tail!.stateVersion !== undefined) cursor.stateVersion = tail!.stateVersion;
  return cursor;
}

const step = (n: number): SessionState => testState('s1', { data: { step: n } });

/** A model that answers `echo: {last message}`. */
class EchoModel implements ChatModel {
  async generate(request: ChatRequest): Promise<ChatResponse> {
    return { content: `echo: ${request.messages.at(-1)?.content ?? ''}` };
  }

  async *stream(request: ChatRequest): AsyncIterable<ChatEvent> {
    yield { type: 'done', response: await this.generate(request) };
  }
}

/** A store that records the tails it answered. */
class RecordingStore extends KeyvSessionStore {
  readonly tails: Array<StoredTail | undefined> = [];
  loads = 0;

  override async load(sessionId: string) {
    this.loads += 1;
    return super.load(sessionId);
  }

  override async loadSince(sessionId: string, cursor?: HistoryCursor) {
    const tail = await super.loadSince(sessionId, cursor);
    this.tails.push(tail);
    return tail;
  }
}

/** Session `chat` opened twice on one database: `a` through a recording store, `b` through another store. */
async function twoSessions(
  backend: (typeof backends)[keyof typeof backends],
): Promise<{ mine: RecordingStore; a: Session; b: Session }> {
  const open = await backend.database();
  const model = new EchoModel();
  const mine = new RecordingStore({ keyv: open() });
  const a = new Session({ sessionId: 'chat', store: mine, model });
  const b = new Session({ sessionId: 'chat', store: new KeyvSessionStore({ keyv: open() }), model });
  return { mine, a, b };
}

for (const backend of Object.values(backends)) {
  describe(`KeyvSessionStore.loadSince (${backend.driver} driver)`, () => {
    it('a tail reads only the messages after the cursor: none when nothing is new', async () => {
      const open = await backend.database();
      const keyv = open();
      const store = new KeyvSessionStore({ keyv });
      expect(store.driver).toBe(backend.driver);
      await store.append('s1', [testMessage(1), testMessage(2)]);
      const first = (await store.loadSince('s1'))!;
      const cursor = { seq: first.seq, epoch: first.epoch };
      // Message 1 can no longer be read: a tail after it must not read it.
      await backend.corruptFirst(keyv, 's1');
      for (const read of [() => store.load('s1'), () => store.loadSince('s1')]) {
        const error = await rejectionOf(read());
        expect(SessionsError.is(error) && error.code).toBe('session_corrupt');
      }
      expect(await store.loadSince('s1', cursor)).toEqual({
        state: undefined,
        messages: [],
        from: 2,
        seq: 2,
        epoch: first.epoch,
      });
      await store.append('s1', [testMessage(3)]);
      await store.saveState('s1', testState('s1', { data: { step: 3 } }));
      expect(await store.loadSince('s1', cursor)).toEqual({
        state: testState('s1', { data: { step: 3 } }),
        messages: [testMessage(3)],
        from: 2,
        seq: 3,
        epoch: first.epoch,
        stateVersion: expect.stringMatching(/^[0-9a-f]{32}$/),
      });
    });

    it('a session stored before epochs were kept: whole tails until a write gives it one', async () => {
      const open = await backend.database();
      const keyv = open();
      const store = new KeyvSessionStore({ keyv });
      await store.append('s1', [testMessage(1), testMessage(2)]);
      await backend.dropEpoch(keyv, 's1');
      const a = (await store.loadSince('s1'))!;
      const b = (await store.loadSince('s1', { seq: 2, epoch: a.epoch }))!;
      // No cursor holds: each answer is the whole history, under an epoch never answered before.
      expect(b).toMatchObject({ messages: [testMessage(1), testMessage(2)], from: 0, seq: 2 });
      expect(b.epoch).not.toBe(a.epoch);

      // saveState gives it an epoch...
      await store.saveState('s1', testState('s1'));
      const c = (await store.loadSince('s1'))!;
      expect(await store.loadSince('s1', { seq: 2, epoch: c.epoch })).toMatchObject({
        messages: [],
        from: 2,
        seq: 2,
        epoch: c.epoch,
      });
      // ...and so does an append.
      await backend.dropEpoch(keyv, 's1');
      await store.append('s1', [testMessage(3)]);
      const d = (await store.loadSince('s1'))!;
      expect(d.epoch).not.toBe(c.epoch);
      expect(await store.loadSince('s1', { seq: 2, epoch: d.epoch })).toMatchObject({
        messages: [testMessage(3)],
        from: 2,
        seq: 3,
      });
      expect((await store.load('s1'))?.messages).toEqual([testMessage(1), testMessage(2), testMessage(3)]);
    });

    it('a cursor that is not one reads as none: the whole history', async () => {
      const open = await backend.database();
      const store = new KeyvSessionStore({ keyv: open() });
      await store.append('s1', [testMessage(1), testMessage(2)]);
      const { epoch } = (await store.loadSince('s1'))!;
      const whole = { messages: [testMessage(1), testMessage(2)], from: 0, seq: 2, epoch };
      for (const cursor of [
        { seq: -1, epoch },
        { seq: 1.5, epoch },
        { seq: '1', epoch },
        { seq: 1 },
        { seq: 1, epoch: 7 },
        null,
        'cursor',
      ]) {
        expect(
          await store.loadSince('s1', cursor as unknown as HistoryCursor),
          JSON.stringify(cursor),
        ).toEqual({
          state: undefined,
          ...whole,
        });
      }
    });

    it('a Session refreshes with only the turn another store wrote to the same database', async () => {
      const { mine, a, b } = await twoSessions(backend);
      await a.Agent({ name: 'A' }).chat('one');
      await b.refresh();
      await b.Agent({ name: 'B' }).chat('two');
      // A made the session, before it had an epoch: this refresh reads it whole, and learns it.
      await a.refresh();
      await b.Agent({ name: 'B' }).chat('three');
      await b.setState('topic', 'AI');

      mine.tails.length = 0;
      await a.refresh();
      expect(mine.tails).toHaveLength(1);
      expect(mine.tails[0]).toMatchObject({ from: 4, seq: 6 });
      expect(mine.tails[0]?.messages.map((m) => m.content)).toEqual(['three', 'echo: three']);
      expect((await a.messages()).map((m) => m.content)).toEqual([
        'one',
        'echo: one',
        'two',
        'echo: two',
        'three',
        'echo: three',
      ]);
      expect(a.getState('topic')).toBe('AI');

      // Nothing new: the next refresh reads no message.
      await a.refresh();
      expect(mine.tails[1]).toMatchObject({ messages: [], from: 6, seq: 6 });
      expect(mine.loads).toBe(0);
    });

    it("with the cursor's state version, the state is neither sent nor parsed", async () => {
      const open = await backend.database();
      const keyv = open();
      const store = new KeyvSessionStore({ keyv });
      await store.saveState('s1', step(1));
      await store.append('s1', [testMessage(1), testMessage(2)]);
      const first = (await store.loadSince('s1'))!;
      expect(first.state).toEqual(step(1));
      expect(first.stateVersion).toMatch(/^[0-9a-f]{32}$/);
      const cursor = cursorOf(first);
      // The stored state can no longer be read: a tail that kept its version must not read it.
      await backend.corruptState(keyv, 's1');
      expect(await store.loadSince('s1', cursor)).toEqual({
        state: undefined,
        stateUnchanged: true,
        stateVersion: first.stateVersion,
        messages: [],
        from: 2,
        seq: 2,
        epoch: first.epoch,
      });
      // Without the version, with another one, or of another epoch: the state is read (and refused).
      for (const other of [
        { seq: 2, epoch: first.epoch },
        { ...cursor, stateVersion: `${first.stateVersion}x` },
        { ...cursor, epoch: `${first.epoch}x` },
      ]) {
        const error = await rejectionOf(store.loadSince('s1', other));
        expect(SessionsError.is(error) && error.code, JSON.stringify(other)).toBe('session_corrupt');
      }
      // Another turn: the messages after the cursor, still not the state.
      await store.append('s1', [testMessage(3)]);
      expect(await store.loadSince('s1', cursor)).toMatchObject({
        state: undefined,
        stateUnchanged: true,
        messages: [testMessage(3)],
        from: 2,
        seq: 3,
      });
      // A state written: answered again, under another version.
      await store.saveState('s1', step(2));
      const changed = (await store.loadSince('s1', cursor))!;
      expect(changed).toMatchObject({ state: step(2), messages: [testMessage(3)], from: 2, seq: 3 });
      expect(changed.stateUnchanged).toBeUndefined();
      expect(changed.stateVersion).not.toBe(first.stateVersion);
    });

    it('a state version written through one store is seen as changed through another on the same database', async () => {
      const open = await backend.database();
      const a = new KeyvSessionStore({ keyv: open() });
      const b = new KeyvSessionStore({ keyv: open() });
      await a.saveState('s1', step(1));
      const seen = (await a.loadSince('s1'))!;
      // The version is the database's: another store (connection, process) keeps it.
      expect(await b.loadSince('s1', cursorOf(seen))).toMatchObject({
        state: undefined,
        stateUnchanged: true,
        stateVersion: seen.stateVersion,
      });
      const versions = new Set([seen.stateVersion]);
      let cursor = cursorOf(seen);
      /** A's next tail: the state `expected`, under a version never answered before. */
      const changedTo = async (expected: SessionState): Promise<void> => {
        const tail = (await a.loadSince('s1', cursor))!;
        expect(tail.stateUnchanged).toBeUndefined();
        expect(tail.state).toEqual(expected);
        expect(versions.has(tail.stateVersion)).toBe(false);
        versions.add(tail.stateVersion);
        cursor = cursorOf(tail);
        expect(await a.loadSince('s1', cursor)).toMatchObject({ state: undefined, stateUnchanged: true });
      };
      await b.saveState('s1', step(2));
      await changedTo(step(2));
      // Every write makes a version, even of the same state.
      await b.saveState('s1', step(2));
      await changedTo(step(2));
      await b.updateState('s1', () => step(3));
      await changedTo(step(3));
      await b.updateState('s1', (current) => current!);
      await changedTo(step(3));
      // Both writing at once: each then reads the state last written, whoever wrote it.
      let bCursor = cursorOf(await b.loadSince('s1'));
      const bump = (state: SessionState | undefined): SessionState => step((state!.data.step as number) + 1);
      await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).updateState('s1', bump)));
      const stored = (await a.load('s1'))!.state;
      expect(stored).toEqual(step(23));
      await changedTo(step(23));
      const bTail = (await b.loadSince('s1', bCursor))!;
      expect(bTail).toMatchObject({ state: step(23), stateVersion: cursor.stateVersion });
      bCursor = cursorOf(bTail);
      // Deleted and made again through B with the very state A holds: another epoch, answered whole.
      await b.delete('s1');
      expect(await a.loadSince('s1', cursor)).toBeUndefined();
      await b.saveState('s1', step(23));
      const again = (await a.loadSince('s1', cursor))!;
      expect(again).toMatchObject({ state: step(23), from: 0, seq: 0 });
      expect(again.stateUnchanged).toBeUndefined();
      expect(again.epoch).not.toBe(cursor.epoch);
      expect(again.stateVersion).not.toBe(cursor.stateVersion);
      expect((await b.loadSince('s1', bCursor))?.stateUnchanged).toBeUndefined();
    });

    it('no state, no version: a session with only messages, and one whose state was deleted', async () => {
      const open = await backend.database();
      const store = new KeyvSessionStore({ keyv: open() });
      await store.append('s1', [testMessage(1)]);
      const tail = (await store.loadSince('s1'))!;
      expect(tail.stateVersion).toBeUndefined();
      expect(tail.stateUnchanged).toBeUndefined();
      // A made-up version holds nothing.
      const made = await store.loadSince('s1', { ...cursorOf(tail), stateVersion: 'v1' });
      expect(made).toEqual({ state: undefined, messages: [], from: 1, seq: 1, epoch: tail.epoch });
    });

    if (backend.olderSaveState !== undefined) {
      const olderSaveState = backend.olderSaveState;
      it('a state written by a version of this package without state versions is answered whole', async () => {
        const open = await backend.database();
        const keyv = open();
        const store = new KeyvSessionStore({ keyv });
        await store.saveState('s1', step(1));
        await store.append('s1', [testMessage(1)]);
        const first = (await store.loadSince('s1'))!;
        expect(first.stateVersion).toBeDefined();
        // An older process (during an upgrade) writes the state: the version it leaves is none.
        await olderSaveState(keyv, 's1', step(2));
        const tail = (await store.loadSince('s1', cursorOf(first)))!;
        expect(tail).toMatchObject({ state: step(2), messages: [], from: 1, seq: 1, epoch: first.epoch });
        expect(tail.stateUnchanged).toBeUndefined();
        expect(tail.stateVersion).toBeUndefined();
        // The next write of this version gives it one again.
        await store.saveState('s1', step(3));
        const next = (await store.loadSince('s1', cursorOf(tail)))!;
        expect(next.state).toEqual(step(3));
        expect(next.stateVersion).toBeDefined();
        expect(next.stateVersion).not.toBe(first.stateVersion);
        expect((await store.loadSince('s1', cursorOf(next)))?.stateUnchanged).toBe(true);
      });
    }

    it('a Session keeps its state while the version stands, and takes in a state another store wrote', async () => {
      const { mine, a, b } = await twoSessions(backend);
      await a.Agent({ name: 'A' }).chat('one');
      await a.refresh();
      await b.refresh();
      await b.setState('topic', 'AI');
      mine.tails.length = 0;
      await a.refresh();
      expect(mine.tails[0]?.stateUnchanged).toBeUndefined();
      expect(a.getState('topic')).toBe('AI');
      // Nothing written since: the state is not sent again, and the Session keeps what it holds.
      await a.refresh();
      expect(mine.tails[1]).toMatchObject({ state: undefined, stateUnchanged: true, messages: [] });
      expect(a.getState('topic')).toBe('AI');
      await b.setState('topic', 'ML');
      await a.refresh();
      expect(mine.tails[2]?.stateUnchanged).toBeUndefined();
      expect(a.getState('topic')).toBe('ML');
      expect(mine.loads).toBe(0);
    });
  });
}

describe('KeyvSessionStore.loadSince reads', () => {
  it('generic driver: with nothing new, only the head and the state', async () => {
    const map = new CountingMap();
    const store = new KeyvSessionStore({ keyv: new Keyv({ store: map }) });
    await store.saveState('s1', testState('s1'));
    await store.append(
      's1',
      Array.from({ length: 50 }, (_, i) => testMessage(i + 1)),
    );
    const { epoch } = (await store.loadSince('s1'))!;
    map.reads = [];
    expect(await store.loadSince('s1', { seq: 50, epoch })).toMatchObject({
      messages: [],
      from: 50,
      seq: 50,
    });
    expect(map.reads.sort()).toEqual(['keyv:sessions:s1:head', 'keyv:sessions:s1:state']);
    await store.append('s1', [testMessage(51)]);
    map.reads = [];
    expect((await store.loadSince('s1', { seq: 50, epoch }))?.messages).toEqual([testMessage(51)]);
    expect(map.reads.sort()).toEqual([
      'keyv:sessions:s1:head',
      'keyv:sessions:s1:msg:0000000051',
      'keyv:sessions:s1:state',
    ]);
  });

  it('sqlite driver: one statement (two for a cursor that does not hold), searched in the key index, never a scan of the table', async () => {
    const adapter = await sqliteAdapter();
    const keyv = track(new Keyv({ store: adapter }));
    const store = new KeyvSessionStore({ keyv });
    await store.saveState('s1', testState('s1'));
    await store.append('s1', [testMessage(1), testMessage(2)]);
    const { statements, query } = recordStatements(adapter);
    const { epoch, stateVersion } = (await store.loadSince('s1'))!;
    expect(statements).toHaveLength(1);
    await store.loadSince('s1', { seq: 2, epoch });
    expect(statements).toHaveLength(2);
    expect(await store.loadSince('s1', { seq: 1, epoch, stateVersion })).toMatchObject({
      stateUnchanged: true,
      messages: [testMessage(2)],
    });
    expect(statements).toHaveLength(3);
    // A cursor that does not hold: the whole session, read again.
    expect(await store.loadSince('s1', { seq: 3, epoch, stateVersion })).toMatchObject({
      state: testState('s1'),
      from: 0,
      seq: 2,
    });
    expect(statements).toHaveLength(5);
    for (const { sql, params } of statements) {
      const plan = (await query(`EXPLAIN QUERY PLAN ${sql}`, params)) as Array<{ detail: string }>;
      const details = plan.map((row) => row.detail);
      expect(details.some((detail) => /SEARCH keyv .*\(key>\? AND key<\?\)/.test(detail))).toBe(true);
      expect(details.filter((detail) => /SCAN keyv/.test(detail))).toEqual([]);
    }
  });
});
