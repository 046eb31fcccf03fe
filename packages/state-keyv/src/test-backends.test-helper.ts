import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import KeyvRedis from '@keyv/redis';
import KeyvSqlite from '@keyv/sqlite';
import { type RedisServer, startRedisServer } from '@sessions/testing';
import Keyv from 'keyv';
import { afterAll, afterEach, beforeAll } from 'vitest';

/** The real backends of one test file: a redis-server, SQLite files in temp folders, and the Keyvs opened on them. */
export interface TestBackends {
  /** `redis://127.0.0.1:<port>` of the file's redis-server. Throws before `beforeAll` has started it. */
  readonly redisUrl: string;
  /** Keeps `keyv` to disconnect after the test; returns it. */
  track<T extends Keyv>(keyv: T): T;
  /** Disconnects a tracked `keyv` now (a process that stops), so that it is not disconnected again after the test. */
  close(keyv: Keyv): Promise<void>;
  /** A new, tracked Keyv on the file's redis-server, in `namespace`. */
  redisKeyv(namespace: string): Keyv;
  /** The `sqlite://` URI of a SQLite file (not yet created) in a new temp folder, removed after the file's tests. */
  sqliteUri(): Promise<string>;
  /**
   * A SQLite adapter on a file of its own (see `sqliteUri`). `unsynced`: commits are not flushed to
   * disk (`synchronous=OFF`, this connection only), for the tests that write many sessions.
   */
  sqliteAdapter(unsynced?: boolean): Promise<KeyvSqlite>;
}

/**
 * Registers the hooks of a test file that uses real backends: a redis-server started before its
 * tests and stopped after them, the Keyvs it tracks disconnected after each test, its temp folders
 * removed after its tests. Call it once, at the top of the file.
 */
export function useTestBackends(): TestBackends {
  let redis: RedisServer | undefined;
  const temps: string[] = [];
  const opened: Keyv[] = [];
  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((keyv) => keyv.disconnect()));
  });
  afterAll(async () => {
    await redis?.stop();
    await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  const backends: TestBackends = {
    get redisUrl(): string {
      if (redis === undefined) throw new Error('useTestBackends: the redis-server starts in beforeAll.');
      return redis.url;
    },
    track<T extends Keyv>(keyv: T): T {
      opened.push(keyv);
      return keyv;
    },
    async close(keyv: Keyv): Promise<void> {
      const at = opened.indexOf(keyv);
      if (at !== -1) opened.splice(at, 1);
      await keyv.disconnect();
    },
    redisKeyv(namespace: string): Keyv {
      return backends.track(new Keyv({ store: new KeyvRedis(backends.redisUrl), namespace }));
    },
    async sqliteUri(): Promise<string> {
      const dir = await mkdtemp(join(tmpdir(), 'state-keyv-'));
      temps.push(dir);
      return `sqlite://${join(dir, 'sessions.sqlite')}`;
    },
    async sqliteAdapter(unsynced = false): Promise<KeyvSqlite> {
      const adapter = new KeyvSqlite({ uri: await backends.sqliteUri() });
      if (unsynced) await adapter.query('PRAGMA synchronous = OFF');
      return adapter;
    },
  };
  return backends;
}

/** Sends one raw command to the Redis server of `keyv` (a Keyv on `@keyv/redis`), through its client. */
export async function redisCommand(keyv: Keyv, args: string[]): Promise<unknown> {
  const client = (await (keyv.store as KeyvRedis<unknown>).getClient()) as unknown as {
    sendCommand(args: string[]): Promise<unknown>;
  };
  return client.sendCommand(args);
}

/** A statement a SQLite adapter ran, with its parameters. */
export interface SqliteStatement {
  sql: string;
  params: unknown;
}

/** The statements `adapter` runs from now on, and its own `query`, which runs one without recording it. */
export interface RecordedStatements {
  statements: SqliteStatement[];
  query: KeyvSqlite['query'];
}

/** Records each statement the SQLite adapter runs from now on (to check how many, and their query plans). */
export function recordStatements(adapter: KeyvSqlite): RecordedStatements {
  const statements: SqliteStatement[] = [];
  const query = adapter.query.bind(adapter);
  adapter.query = (async (sql: string, params: unknown) => {
    statements.push({ sql, params });
    return query(sql, params);
  }) as typeof adapter.query;
  return { statements, query };
}
