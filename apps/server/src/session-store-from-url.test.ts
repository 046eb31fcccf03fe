import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Message } from '@sessions/core';
import { type RedisServer, startRedisServer } from '@sessions/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sessionStoreFromUrl } from './session-store-from-url.js';

let dir: string;
let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis.stop());
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sessions-store-url-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const hello: Message = { id: 'm1', role: 'user', content: 'Hello', createdAt: '2025-01-01T00:00:00.000Z' };

async function roundTrip(url: string | undefined): Promise<string> {
  const opened = await sessionStoreFromUrl({ url, dataDir: dir });
  try {
    await opened.store.append('chat_1', [hello]);
    expect((await opened.store.load('chat_1'))?.messages).toEqual([hello]);
  } finally {
    await opened.close();
  }
  const again = await sessionStoreFromUrl({ url, dataDir: dir });
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
    expect(await roundTrip(undefined)).toBe(`SQLite ${join(dir, 'sessions.sqlite')}`);
    expect(existsSync(join(dir, 'sessions.sqlite'))).toBe(true);
  });

  it('takes a SQLite file, files in the data folder, or Redis', async () => {
    expect(await roundTrip(`sqlite://${join(dir, 'deep', 'my.sqlite')}`)).toBe(
      `SQLite ${join(dir, 'deep', 'my.sqlite')}`,
    );
    expect(await roundTrip('fs')).toBe(`files in ${dir}`);
    const withCredentials = redis.url.replace('redis://', 'redis://default:@');
    expect(await roundTrip(withCredentials)).toBe(`Redis ${redis.url}`);
  });

  it('refuses unknown URLs and says when Redis cannot be reached', async () => {
    await expect(sessionStoreFromUrl({ url: 'postgres://x', dataDir: dir })).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringMatching(/^Unsupported session store "postgres:\/\/x": use sqlite/),
    });
    await expect(
      sessionStoreFromUrl({ url: 'redis://127.0.0.1:1', dataDir: dir, connectTimeoutMs: 500 }),
    ).rejects.toMatchObject({
      code: 'unavailable',
      message: expect.stringMatching(/^Cannot use the session store redis:\/\/127\.0\.0\.1:1: /),
    });
  });
});
