import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import KeyvRedis from '@keyv/redis';
import KeyvSqlite from '@keyv/sqlite';
import { InvalidInputError, type SessionStore, SessionsError } from '@sessions/core';
import { FsSessionStore } from '@sessions/state-fs';
import { KeyvSessionStore } from '@sessions/state-keyv';
import Keyv from 'keyv';

export interface SessionStoreFromUrlOptions {
  /**
   * Where sessions live: `sqlite` (the default: `{dataDir}/sessions.sqlite`), `sqlite://FILE`,
   * `redis://[user:password@]host:port[/db]` (or `rediss://`), or `fs` (`FsSessionStore` files in
   * `dataDir`).
   */
  url?: string | undefined;
  /** The data folder. */
  dataDir: string;
  /** How long to wait for Redis to answer at startup, in ms. Default 5 000. */
  connectTimeoutMs?: number;
}

/** A session store and how to describe it. */
export interface OpenedSessionStore {
  store: SessionStore;
  /** One line for humans: `SQLite /abs/.sessions/sessions.sqlite`, `Redis redis://host:6379`. */
  description: string;
  close(): Promise<void>;
}

const USAGE =
  'use sqlite (the default: sessions.sqlite in the data folder), sqlite://FILE, redis://HOST:PORT, or fs (files in the data folder)';

/**
 * The session store a store URL names. SQLite and Redis go through `KeyvSessionStore` (safe for
 * several server processes on one database); `fs` through `FsSessionStore`. Redis is checked
 * before this resolves, so a wrong URL fails at startup, not at the first turn.
 */
export async function sessionStoreFromUrl(options: SessionStoreFromUrlOptions): Promise<OpenedSessionStore> {
  const url = options.url?.trim() || 'sqlite';
  if (url === 'fs') {
    const store = new FsSessionStore({ root: options.dataDir });
    return { store, description: `files in ${store.root}`, close: () => store.close() };
  }
  if (url === 'sqlite' || url.startsWith('sqlite://')) {
    const path = url === 'sqlite' ? join(options.dataDir, 'sessions.sqlite') : url.slice('sqlite://'.length);
    if (path === '') throw new InvalidInputError(`Invalid session store "${url}": ${USAGE}`);
    return openSqlite(resolve(path));
  }
  if (url.startsWith('redis://') || url.startsWith('rediss://')) {
    return openRedis(url, options.connectTimeoutMs ?? 5_000);
  }
  throw new InvalidInputError(`Unsupported session store "${url}": ${USAGE}`);
}

async function openSqlite(file: string): Promise<OpenedSessionStore> {
  mkdirSync(dirname(file), { recursive: true });
  const sqlite = new KeyvSqlite({ uri: `sqlite://${file}`, busyTimeout: 10_000 });
  const keyv = new Keyv({ store: sqlite, namespace: 'sessions' });
  try {
    // Readers never wait for a writer (the CLI beside a running server, several servers).
    await sqlite.query('PRAGMA journal_mode = WAL');
    const store = new KeyvSessionStore({ keyv, requireMultiProcess: true });
    return {
      store,
      description: `SQLite ${file}`,
      async close() {
        await store.close();
        await keyv.disconnect();
      },
    };
  } catch (error) {
    await keyv.disconnect().catch(() => undefined);
    throw error;
  }
}

async function openRedis(url: string, connectTimeoutMs: number): Promise<OpenedSessionStore> {
  let shown: string;
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    shown = parsed.href.replace(/\/$/, '');
  } catch (error) {
    throw new InvalidInputError(`Invalid session store "${url}": ${USAGE}`, { cause: error });
  }
  const redis = new KeyvRedis(
    {
      url,
      socket: {
        connectTimeout: connectTimeoutMs,
        // Keep reconnecting while the server runs (Redis restarts), a few seconds apart at most.
        reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 3_000),
      },
    },
    { throwOnConnectError: true, connectionTimeout: connectTimeoutMs },
  );
  const keyv = new Keyv({ store: redis, namespace: 'sessions' });
  try {
    await withTimeout(redis.getClient(), connectTimeoutMs, `Redis at ${shown} did not answer`);
    const store = new KeyvSessionStore({ keyv, requireMultiProcess: true });
    return {
      store,
      description: `Redis ${shown}`,
      async close() {
        await store.close();
        await keyv.disconnect();
      },
    };
  } catch (error) {
    await keyv.disconnect().catch(() => undefined);
    const message = error instanceof Error ? error.message : String(error);
    const reason = /not connected|failed to connect/i.test(message)
      ? `could not connect within ${connectTimeoutMs} ms: is Redis running there?`
      : message;
    throw new SessionsError('unavailable', `Cannot use the session store ${shown}: ${reason}`, {
      cause: error,
    });
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
