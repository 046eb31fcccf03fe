import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Message } from '@sessions/core';
import { type RedisServer, startRedisServer, useTempDir } from '@sessions/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sessionStoreFromUrl } from './session-store-from-url.js';

const tmp = useTempDir({ beforeEach, afterEach, prefix: 'sessions-store-url-' });
let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis.stop());

const hello: Message = { id: 'm1', role: 'user', content: 'Hello', createdAt: '2025-01-01T00:00:00.000Z' };

async function roundTrip(url: string | undefined): Promise<string> {
  const opened = await sessionStoreFromUrl({ url, dataDir: tmp.path });
  try {
    await opened.store.append('chat_1', [hello]);
    expect((await opened.store.load('chat_1'))?.messages).toEqual([hello]);
  } finally {
    await opened.close();
  }
  const again = await sessionStoreFromUrl({ url, dataDir: tmp.path });
  try {
    expect((await again.store.load('chat_1'))?.messages).toEqual([hello]); // persisted
    await again.store.delete('chat_1');
  } finally {
    await again.close();
  }
  return again.description;
}

describe('sessionStoreFromUrl', () => {
  it('keeps sessions in SQLite in the data folder by default', async () => {
    expect(await roundTrip(undefined)).toBe(`SQLite ${join(tmp.path, 'sessions.sqlite')}`);
    expect(existsSync(join(tmp.path, 'sessions.sqlite'))).toBe(true);
  });

  it('takes a SQLite file, files in the data folder, or Redis', async () => {
    expect(await roundTrip(`sqlite://${join(tmp.path, 'deep', 'my.sqlite')}`)).toBe(
      `SQLite ${join(tmp.path, 'deep', 'my.sqlite')}`,
    );
    expect(await roundTrip('fs')).toBe(`files in ${tmp.path}`);
    const withCredentials = redis.url.replace('redis://', 'redis://default:@');
    expect(await roundTrip(withCredentials)).toBe(`Redis ${redis.url}`);
  });

  it('refuses unknown URLs and says when Redis cannot be reached', async () => {
    await expect(sessionStoreFromUrl({ url: 'postgres://x', dataDir: tmp.path })).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringMatching(/^Unsupported session store "postgres:\/\/x": use sqlite/),
    });
    await expect(
      sessionStoreFromUrl({ url: 'redis://127.0.0.1:1', dataDir: tmp.path, connectTimeoutMs: 500 }),
    ).rejects.toMatchObject({
      code: 'unavailable',
      message: expect.stringMatching(/^Cannot use the session store redis:\/\/127\.0\.0\.1:1: /),
    });
  });
});
