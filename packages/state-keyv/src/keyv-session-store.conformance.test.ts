import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import KeyvRedis from '@keyv/redis';
import KeyvSqlite from '@keyv/sqlite';
import { type RedisServer, sessionStoreConformance, startRedisServer } from '@sessions/testing';
import Keyv from 'keyv';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KeyvSessionStore } from './index.js';
import { PlainAdapter } from './plain-adapter.test-helper.js';

const api = { describe, it, expect, beforeEach, afterEach };
const temps: string[] = [];
afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function sqliteKeyv(): Promise<Keyv> {
  const dir = await mkdtemp(join(tmpdir(), 'state-keyv-'));
  temps.push(dir);
  return new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${join(dir, 'sessions.sqlite')}` }) });
}

describe('KeyvSessionStore on an in-memory Keyv (generic driver)', () => {
  sessionStoreConformance(() => {
    const store = new KeyvSessionStore({ keyv: new Keyv() });
    expect(store.driver).toBe('generic');
    return store;
  }, api);
});

describe('KeyvSessionStore on SQLite (sqlite driver)', () => {
  const opened: Keyv[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((keyv) => keyv.disconnect()));
  });
  sessionStoreConformance(async () => {
    const keyv = await sqliteKeyv();
    opened.push(keyv);
    const store = new KeyvSessionStore({ keyv });
    expect(store.driver).toBe('sqlite');
    return store;
  }, api);
});

describe('KeyvSessionStore on another persistent adapter (generic driver, writer lease)', () => {
  const opened: Keyv[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((keyv) => keyv.disconnect()));
  });
  sessionStoreConformance(async () => {
    const sqlite = await sqliteKeyv();
    opened.push(sqlite);
    const keyv = new Keyv({ store: new PlainAdapter(sqlite.store as KeyvSqlite) });
    const store = new KeyvSessionStore({ keyv });
    expect(store.driver).toBe('generic');
    return store;
  }, api);
});

describe('KeyvSessionStore on Redis (redis driver, real redis-server)', () => {
  let redis: RedisServer;
  const opened: Keyv[] = [];
  let n = 0;
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await Promise.all(opened.map((keyv) => keyv.disconnect()));
    await redis?.stop();
  });
  sessionStoreConformance(() => {
    // One namespace per case: each case starts with an empty store on the one server.
    const keyv = new Keyv({ store: new KeyvRedis(redis.url), namespace: `case${++n}` });
    opened.push(keyv);
    const store = new KeyvSessionStore({ keyv });
    expect(store.driver).toBe('redis');
    return store;
  }, api);
});
