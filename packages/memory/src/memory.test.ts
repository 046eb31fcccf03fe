import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import KeyvSqlite from '@keyv/sqlite';
import { SessionsError } from '@sessions/core';
import { OpenAIEmbedder } from '@sessions/openai';
import { type FakeOpenAI, memoryStoreConformance, startFakeOpenAI } from '@sessions/testing';
import Keyv from 'keyv';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Memory } from './memory.js';

const dirs: string[] = [];
const tempDir = async (): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), 'sessions-memory-'));
  dirs.push(dir);
  return dir;
};
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe('Memory in memory', () => {
  memoryStoreConformance(() => new Memory(), { it, expect, afterEach });
});

describe('Memory on SQLite', () => {
  memoryStoreConformance(
    async () => new Memory({ path: await tempDir() }),
    { it, expect, afterEach },
    {
      close: (store) => (store as Memory).close(),
    },
  );
});

describe('Memory persistence', () => {
  it('finds everything again from a new instance on the same path', async () => {
    const path = await tempDir();
    const first = new Memory({ path });
    await first.add(
      { text: 'Caroline went to the LGBTQ support group', metadata: { dia_id: 'D1:3' } },
      { userId: 'u' },
    );
    await first.add('Melanie painted a sunrise', { userId: 'u' });
    await first.close();

    const second = new Memory({ path });
    const hits = await second.search('support group', { scope: { userId: 'u' } });
    expect(hits[0]).toMatchObject({
      text: 'Caroline went to the LGBTQ support group',
      metadata: { dia_id: 'D1:3' },
    });
    expect(await second.size()).toBe(2);
    await second.close();
  });

  it('lists memories of one time in the order they were added, from any scope', async () => {
    const memory = new Memory();
    const at = '2026-01-01T00:00:00.000Z';
    await memory.add({ text: 'user fact first', createdAt: at }, { userId: 'u' });
    await memory.add({ text: 'shared second', createdAt: at });
    await memory.add({ text: 'session third', createdAt: at }, { userId: 'u', sessionId: 's' });
    const order = ['user fact first', 'shared second', 'session third'];
    expect((await memory.list({ userId: 'u', sessionId: 's' })).map((m) => m.text)).toEqual(order);
    expect((await memory.list({ userId: 'u' })).map((m) => m.text)).toEqual(order);
    await memory.close();
  });

  it('lists what a session sees from a new instance on the same path', async () => {
    const path = await tempDir();
    const first = new Memory({ path });
    await first.add({ text: 'likes tea', createdAt: '2026-01-01T00:00:00.000Z' }, { userId: 'u' });
    await first.add(
      { text: 'asked about trains', createdAt: '2026-01-02T00:00:00.000Z' },
      { userId: 'u', sessionId: 's' },
    );
    await first.add('another session', { userId: 'u', sessionId: 'other' });
    await first.add('another user', { userId: 'v' });
    await first.close();

    const second = new Memory({ path });
    const seen = await second.list({ userId: 'u', sessionId: 's' });
    expect(seen.map((record) => record.text)).toEqual(['likes tea', 'asked about trains']);
    await second.close();
  });

  it('repairs a snapshot older than the records', async () => {
    const path = await tempDir();
    const first = new Memory({ path });
    await first.add('apples are red', { userId: 'u' });
    await first.flush();
    await first.add('bananas are yellow', { userId: 'u' }); // after the snapshot
    await first.keyv.disconnect(); // a crash: no final flush

    const second = new Memory({ path });
    expect((await second.search('bananas', { scope: { userId: 'u' } }))[0]?.text).toBe('bananas are yellow');
    expect((await second.search('apples', { scope: { userId: 'u' } }))[0]?.text).toBe('apples are red');
    await second.close();
  });

  it('works on any Keyv instance', async () => {
    const keyv = new Keyv();
    const memory = new Memory({ keyv });
    await memory.add('stored in a plain Keyv map');
    expect((await new Memory({ keyv }).search('plain map'))[0]?.text).toBe('stored in a plain Keyv map');
  });

  it('refuses keyv and path together, as Knowledge does, and creates no folder', async () => {
    const path = join(await tempDir(), 'never-made');
    let error: unknown;
    try {
      new Memory({ keyv: new Keyv(), path });
    } catch (caught) {
      error = caught;
    }
    expect(SessionsError.is(error) && [error.code, error.message]).toEqual([
      'invalid_input',
      'Memory takes `keyv` or `path`, not both',
    ]);
    expect(existsSync(path)).toBe(false);
  });
});

describe('Memory on damaged storage', () => {
  /** Writes `value` as it is (not serialized) at `key` of the SQLite file in `path`. */
  const writeRaw = async (path: string, key: string, value: string): Promise<void> => {
    const sqlite = new KeyvSqlite({ uri: `sqlite://${join(path, 'memory.sqlite')}` });
    await sqlite.set(key, value);
    await sqlite.disconnect();
  };

  it('reports a record that is not JSON as SessionCorruptError naming the file and the record', async () => {
    const path = await tempDir();
    const first = new Memory({ path });
    const record = await first.add('a memory about to be damaged');
    await first.add('a healthy memory');
    await first.close();
    await writeRaw(path, `memory:m:${record.id}`, 'garbage');

    for (const read of [
      (memory: Memory) => memory.search('memory'),
      (memory: Memory) => memory.list(),
      (memory: Memory) => memory.size(),
    ]) {
      const memory = new Memory({ path });
      const error = await read(memory).catch((caught: unknown) => caught);
      expect(SessionsError.is(error) && error.code).toBe('session_corrupt');
      expect(error).toMatchObject({ file: join(path, 'memory.sqlite') });
      expect((error as Error).message).toContain(`m:${record.id}`);
      expect((error as Error).cause).toBeInstanceOf(SyntaxError);
      await memory.close().catch(() => undefined);
    }
  });

  it('rebuilds the search index when its snapshot is not JSON (a cache, not data)', async () => {
    const path = await tempDir();
    const first = new Memory({ path });
    await first.add('the snapshot of this index gets damaged');
    await first.close();
    await writeRaw(path, 'memory:index', '{"v":1,"count":');

    const second = new Memory({ path });
    expect((await second.search('snapshot damaged'))[0]?.text).toBe(
      'the snapshot of this index gets damaged',
    );
    await second.close();
  });

  it('reports a value that is not JSON in a given Keyv store as SessionCorruptError', async () => {
    const path = await tempDir();
    const sqlite = new KeyvSqlite({ uri: `sqlite://${join(path, 'given.sqlite')}` });
    const keyv = new Keyv({ store: sqlite, namespace: 'mine' });
    await new Memory({ keyv }).add('stored in a given store');
    await sqlite.set('mine:m:broken', 'garbage');

    const error = await new Memory({ keyv }).list().catch((caught: unknown) => caught);
    expect(SessionsError.is(error) && error.code).toBe('session_corrupt');
    expect((error as Error).cause).toBeInstanceOf(SyntaxError);
    await keyv.disconnect();
  });

  it('reports a memory.sqlite that is not a database as SessionCorruptError naming the file', async () => {
    const path = await tempDir();
    const file = join(path, 'memory.sqlite');
    await writeFile(file, 'these are notes, not a SQLite database\n'.repeat(100));

    const memory = new Memory({ path });
    const error = await memory.list().catch((caught: unknown) => caught);
    expect(SessionsError.is(error) && error.code).toBe('session_corrupt');
    expect(error).toMatchObject({ file, message: expect.stringContaining(file) });
    await memory.close().catch(() => undefined);
  });
});

describe('Memory with an embedder', () => {
  let fake: FakeOpenAI;
  beforeAll(async () => {
    fake = await startFakeOpenAI();
  });
  afterAll(() => fake.close());

  const embedder = () =>
    new OpenAIEmbedder({
      apiKey: fake.apiKey,
      baseURL: fake.url,
      model: 'text-embedding-3-small',
      dimensions: 256,
    });

  it('computes each embedding once and stores it', async () => {
    const path = await tempDir();
    fake.reset();
    const memory = new Memory({ path, embedder: embedder() });
    await memory.addMany(['the cat sat on the mat', 'dogs chase cats', 'stock markets fell today'], {
      userId: 'u',
    });
    await memory.add('the cat sat on the mat', { userId: 'u' }); // duplicate: no new embedding
    await memory.close();
    expect(fake.embeddingRequests()).toHaveLength(1);

    const again = new Memory({ path, embedder: embedder() });
    const hits = await again.search('cat mat', { scope: { userId: 'u' } });
    expect(hits[0]?.text).toBe('the cat sat on the mat');
    expect(fake.embeddingRequests()).toHaveLength(2); // only the query
    await again.close();
  });

  it('ranks by vectors too (hybrid)', async () => {
    fake.reset();
    const memory = new Memory({ embedder: embedder() });
    await memory.addMany(['alpha beta gamma', 'delta epsilon zeta'], { userId: 'u' });
    const hits = await memory.search('epsilon', { scope: { userId: 'u' } });
    expect(hits[0]?.text).toBe('delta epsilon zeta');
    expect(fake.embeddingRequests().at(-1)?.body).toMatchObject({ input: ['epsilon'] });
  });
});

describe('Memory close', () => {
  it('can be closed twice', async () => {
    const memory = new Memory({ path: await tempDir() });
    await memory.add('x');
    await memory.close();
    await expect(memory.close()).resolves.toBeUndefined();
  });
});
