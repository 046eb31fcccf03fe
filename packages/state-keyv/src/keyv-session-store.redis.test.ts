import KeyvRedis, { createKeyv } from '@keyv/redis';
import { rejectionOf, startRedisServer, testMessage, testState } from '@sessions/testing';
import Keyv from 'keyv';
import { describe, expect, it } from 'vitest';
import { KeyvSessionStore } from './index.js';
import { redisCommand, useTestBackends } from './test-backends.test-helper.js';

const backends = useTestBackends();

let n = 0;
/** A Keyv on the test server, in a namespace of its own. */
function redisKeyv(namespace = `t${++n}`): Keyv {
  return backends.redisKeyv(namespace);
}

/** Runs one command on the server through a fresh client. */
async function command(args: string[]): Promise<unknown> {
  return redisCommand(redisKeyv(), args);
}

describe('KeyvSessionStore on Redis', () => {
  it('a new client (a restarted process) sees history, state and idempotency keys', async () => {
    const firstKeyv = redisKeyv('restart');
    const first = new KeyvSessionStore({ keyv: firstKeyv });
    await first.append('s1', [testMessage(1), testMessage(2)], { idempotencyKey: 'turn-1' });
    await first.saveState('s1', testState('s1', { data: { topic: 'AI' } }));
    await backends.close(firstKeyv);

    const second = new KeyvSessionStore({ keyv: redisKeyv('restart') });
    expect(await second.load('s1')).toEqual({
      state: testState('s1', { data: { topic: 'AI' } }),
      messages: [testMessage(1), testMessage(2)],
    });
    expect(await second.append('s1', [testMessage(1), testMessage(2)], { idempotencyKey: 'turn-1' })).toEqual(
      { seq: 2, replayed: true },
    );
    expect(await second.append('s1', [testMessage(3)])).toEqual({ seq: 3 });
  });

  it('keeps its layout: a list of messages, a hash of idempotency keys, the state, an index with the epoch', async () => {
    const store = new KeyvSessionStore({ keyv: redisKeyv('layout') });
    await store.append('s1', [testMessage(1), testMessage(2)], { idempotencyKey: 'turn-1' });
    await store.saveState('s1', testState('s1', { data: { topic: 'AI' } }));
    const base = 'layout::layout:sessions';
    expect(await command(['LRANGE', `${base}:s1:messages`, '0', '-1'])).toEqual([
      JSON.stringify(testMessage(1)),
      JSON.stringify(testMessage(2)),
    ]);
    expect(await command(['HGETALL', `${base}:s1:idem`])).toEqual(['turn-1', '2']);
    expect(JSON.parse((await command(['GET', `${base}:s1:state`])) as string)).toEqual(
      testState('s1', { data: { topic: 'AI' } }),
    );
    // The index entry also holds the session's epoch and its state's version (what `loadSince`
    // cursors name).
    const entry = JSON.parse((await command(['HGET', `${base}:~sessions`, 's1'])) as string);
    const tail = await store.loadSince('s1');
    expect(entry).toEqual({
      epoch: tail?.epoch,
      userId: 'u1',
      createdAt: '2025-01-01T00:00:00.000Z',
      updatedAt: '2025-01-02T00:00:00.000Z',
      stateVersion: tail?.stateVersion,
    });
    expect(entry.epoch).toMatch(/^[0-9a-f]{32}$/);
    expect(entry.stateVersion).toMatch(/^[0-9a-f]{32}$/);
    await store.delete('s1');
    expect(await command(['KEYS', 'layout::*'])).toEqual([]);
  });

  it("works with @keyv/redis's createKeyv (no Keyv prefix, the adapter's namespace)", async () => {
    const keyv = backends.track(createKeyv(backends.redisUrl, { namespace: 'created' }));
    const store = new KeyvSessionStore({ keyv });
    expect(store.driver).toBe('redis');
    await store.append('s1', [testMessage(1)]);
    expect(await command(['LLEN', 'created::sessions:s1:messages'])).toBe(1);
    expect((await store.load('s1'))?.messages).toEqual([testMessage(1)]);
  });

  it('one append of 5 000 messages (the script pushes them in chunks)', async () => {
    const store = new KeyvSessionStore({ keyv: redisKeyv() });
    const many = Array.from({ length: 5_000 }, (_, i) => testMessage(i));
    expect(await store.append('big', many)).toEqual({ seq: 5_000 });
    expect((await store.load('big'))?.messages).toEqual(many);
  });

  it('lists many sessions sorted by id, filtered by user', async () => {
    const store = new KeyvSessionStore({ keyv: redisKeyv() });
    const ids = Array.from({ length: 1_200 }, (_, i) => `s${String(i).padStart(4, '0')}`);
    await Promise.all(
      ids.map((id, i) =>
        store.saveState(id, testState(id, { userId: i % 3 === 0 ? 'u0' : 'u1', data: { topic: 'AI' } })),
      ),
    );
    const listed: string[] = [];
    for await (const row of store.list()) listed.push(row.sessionId);
    expect(listed).toEqual(ids);
    let u0 = 0;
    for await (const row of store.list({ userId: 'u0' })) {
      expect(row.userId).toBe('u0');
      u0++;
    }
    expect(u0).toBe(400);
  });

  it('reports corrupt values as session_corrupt naming the key', async () => {
    const store = new KeyvSessionStore({ keyv: redisKeyv('corrupt') });
    await store.append('s1', [testMessage(1)]);
    await command(['SET', 'corrupt::corrupt:sessions:s1:state', '{"schemaVersion":7}']);
    expect(await rejectionOf(store.load('s1'))).toMatchObject({
      code: 'session_corrupt',
      file: 'corrupt::corrupt:sessions:s1:state',
    });
    await command(['SET', 'corrupt::corrupt:sessions:s1:state', 'not json']);
    expect(await rejectionOf(store.load('s1'))).toMatchObject({ code: 'session_corrupt' });
  });

  it('survives the scripts being flushed from the server (EVALSHA falls back to EVAL)', async () => {
    const store = new KeyvSessionStore({ keyv: redisKeyv() });
    await store.append('s1', [testMessage(1)]);
    expect(await command(['SCRIPT', 'FLUSH'])).toBe('OK');
    expect(await store.append('s1', [testMessage(2)])).toEqual({ seq: 2 });
  });

  it('rejects when the server is gone', async () => {
    const own = await startRedisServer();
    const keyv = new Keyv({ store: new KeyvRedis({ url: own.url, socket: { reconnectStrategy: false } }) });
    const store = new KeyvSessionStore({ keyv });
    await store.append('s1', [testMessage(1)]);
    await own.stop();
    expect(await rejectionOf(store.append('s1', [testMessage(2)]))).toBeInstanceOf(Error);
  });
});
