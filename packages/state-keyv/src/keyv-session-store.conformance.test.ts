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

/** The SQLite file of each Keyv made here, so a second connection can open it. */
const files = new WeakMap<Keyv, string>();
async function sqliteKeyv(file?: string): Promise<Keyv> {
  let path = file;
  if (path === undefined) {
    const dir = await mkdtemp(join(tmpdir(), 'state-keyv-'));
    temps.push(dir);
    path = join(dir, 'sessions.sqlite');
  }
  const keyv = new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${path}`, busyTimeout: 10_000 }) });
  files.set(keyv, path);
  return keyv;
}

describe('KeyvSessionStore on an in-memory Keyv (generic driver)', () => {
  sessionStoreConformance(
    () => {
      const store = new KeyvSessionStore({ keyv: new Keyv() });
      expect(store.driver).toBe('generic');
      return store;
    },
    api,
    // Another store on the same Keyv (its Map): the one this process would make.
    { reopen: (store) => new KeyvSessionStore({ keyv: (store as KeyvSessionStore).keyv }) },
  );
});

describe('KeyvSessionStore on SQLite (sqlite driver)', () => {
  const opened: Keyv[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((keyv) => keyv.disconnect()));
  });
  sessionStoreConformance(
    async () => {
      const keyv = await sqliteKeyv();
      opened.push(keyv);
      const store = new KeyvSessionStore({ keyv });
      expect(store.driver).toBe('sqlite');
      return store;
    },
    api,
    {
      // A second connection to the same file.
      reopen: async (store) => {
        const keyv = await sqliteKeyv(files.get((store as KeyvSessionStore).keyv));
        opened.push(keyv);
        return new KeyvSessionStore({ keyv });
      },
    },
  );
});

describe('KeyvSessionStore on another persistent adapter (generic driver, writer lease)', () => {
  const opened: Keyv[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((keyv) => keyv.disconnect()));
  });
  sessionStoreConformance(
    async () => {
      const sqlite = await sqliteKeyv();
      opened.push(sqlite);
      const keyv = new Keyv({ store: new PlainAdapter(sqlite.store as KeyvSqlite) });
      const store = new KeyvSessionStore({ keyv });
      expect(store.driver).toBe('generic');
      return store;
    },
    api,
    // Another store of this process on the same adapter (a second process would be refused).
    { reopen: (store) => new KeyvSessionStore({ keyv: (store as KeyvSessionStore).keyv }) },
  );
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
  sessionStoreConformance(
    () => {
      // One namespace per case: each case starts with an empty store on the one server.
      const keyv = new Keyv({ store: new KeyvRedis(redis.url), namespace: `case${++n}` });
      opened.push(keyv);
      const store = new KeyvSessionStore({ keyv });
      expect(store.driver).toBe('redis');
      return store;
    },
    api,
    {
      // A second client of the same server, in the same namespace.
      reopen: (store) => {
        const keyv = new Keyv({
          store: new KeyvRedis(redis.url),
          namespace: (store as KeyvSessionStore).keyv.namespace,
        });
        opened.push(keyv);
        return new KeyvSessionStore({ keyv });
      },
    },
  );
});
