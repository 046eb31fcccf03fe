// Several processes on one database, with real child processes running the built package
// (`dist/`): build first (`npx turbo run build --filter=@sessions/state-keyv...`).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import KeyvRedis from '@keyv/redis';
import KeyvSqlite from '@keyv/sqlite';
import type { HistoryCursor, SessionState } from '@sessions/core';
import { type RedisServer, startRedisServer } from '@sessions/testing';
import Keyv from 'keyv';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { KeyvSessionStore } from './index.js';
import { PlainAdapter } from './plain-adapter.test-helper.js';

const packageDir = resolve(import.meta.dirname, '..');
const childScript = join(packageDir, 'test', 'fixtures', 'store-child.mjs');

/** Newest modification time of the source files (not tests) under `dir`, in ms. */
async function newest(dir: string): Promise<number> {
  let latest = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && !entry.name.includes('.test'))
      latest = Math.max(latest, (await stat(join(entry.parentPath, entry.name))).mtimeMs);
  }
  return latest;
}

let redis: RedisServer;
beforeAll(async () => {
  for (const pkg of ['state-keyv', 'core']) {
    const dir = resolve(packageDir, '..', pkg);
    const built = await stat(join(dir, 'dist', 'index.js')).catch(() => undefined);
    if (!built || built.mtimeMs < (await newest(join(dir, 'src'))) - 1) {
      throw new Error(
        `packages/${pkg}/dist is missing or older than its src: run \`npx turbo run build --filter=@sessions/state-keyv...\` first`,
      );
    }
  }
  redis = await startRedisServer();
});

const temps: string[] = [];
const children: ChildProcess[] = [];
const opened: Keyv[] = [];
async function tempFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'state-keyv-proc-'));
  temps.push(dir);
  return join(dir, 'sessions.sqlite');
}
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.all(opened.splice(0).map((keyv) => keyv.disconnect()));
});
afterAll(async () => {
  await redis?.stop();
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

interface ChildConfig {
  backend: 'redis' | 'sqlite' | 'plain';
  target: string;
  namespace?: string;
  task: 'append-many' | 'increment-many' | 'hold';
  sessionId: string;
  worker: string;
  count?: number;
  shared?: number;
  concurrency?: number;
  store?: Record<string, unknown>;
}

interface AppendRecord {
  id: string;
  seq: number;
  key?: string;
  replayed?: boolean;
}

interface Report {
  result?: AppendRecord[] | number[] | { seq: number };
  error?: { code?: string; message: string };
  pid?: number;
}

class Child {
  readonly process: ChildProcess;
  readonly #lines: string[] = [];
  readonly #waiters: Array<() => void> = [];
  readonly exited: Promise<unknown>;
  stderr = '';

  constructor(config: ChildConfig) {
    this.process = spawn(process.execPath, [childScript, JSON.stringify(config)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    children.push(this.process);
    this.exited = once(this.process, 'exit');
    let buffer = '';
    this.process.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const parts = buffer.split('\n');
      buffer = parts.pop()!;
      this.#lines.push(...parts);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.process.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString('utf8');
    });
    this.process.on('exit', () => {
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** The first stdout line that satisfies `predicate`. */
  async line(predicate: (line: string) => boolean): Promise<string> {
    for (;;) {
      const found = this.#lines.find(predicate);
      if (found !== undefined) return found;
      if (this.process.exitCode !== null) {
        throw new Error(`child exited (${this.process.exitCode}) without the line expected:\n${this.stderr}`);
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  async ready(): Promise<void> {
    await this.line((line) => line === 'ready');
  }

  send(word: string): void {
    this.process.stdin!.write(`${word}\n`);
  }

  async report(): Promise<Report> {
    return JSON.parse(await this.line((line) => line.startsWith('{'))) as Report;
  }
}

/** Starts the children, lets them go at the same moment, and returns their reports. */
async function runTogether(configs: ChildConfig[]): Promise<Report[]> {
  const started = configs.map((config) => new Child(config));
  await Promise.all(started.map((child) => child.ready()));
  for (const child of started) child.send('go');
  const reports = await Promise.all(started.map((child) => child.report()));
  await Promise.all(started.map((child) => child.exited));
  for (const [i, child] of started.entries()) {
    expect(child.process.exitCode, child.stderr).toBe(0);
    expect(reports[i]?.error, child.stderr).toBeUndefined();
  }
  return reports;
}

function checkHistory(
  messages: Array<{ id: string }>,
  reports: Report[],
  { workers, count, shared }: { workers: string[]; count: number; shared: number },
): void {
  // Every message once: each worker's `count`, and each shared keyed batch (2 messages) once.
  expect(messages).toHaveLength(workers.length * count + shared * 2);
  const ids = messages.map((m) => m.id);
  expect(new Set(ids).size).toBe(ids.length);
  for (const worker of workers) {
    for (let i = 0; i < count; i++) expect(ids).toContain(`${worker}_${i}`);
  }
  const records = reports.flatMap((report) => report.result as AppendRecord[]);
  const sharedSeqs = new Map<string, Set<number>>();
  const stored = new Map<string, number>();
  for (const { id, seq, key, replayed } of records) {
    if (key === undefined) {
      // A plain append's seq is its message's position.
      expect(messages[seq - 1]?.id).toBe(id);
      expect(replayed).toBeUndefined();
    } else {
      // A keyed batch: the same seq for every worker, and its two messages in order ending there.
      sharedSeqs.set(key, (sharedSeqs.get(key) ?? new Set()).add(seq));
      expect(messages[seq - 2]?.id).toBe(id);
      expect(messages[seq - 1]?.id).toBe(`${id}_b`);
      expect(typeof replayed).toBe('boolean');
      if (replayed === false) stored.set(key, (stored.get(key) ?? 0) + 1);
    }
  }
  expect(sharedSeqs.size).toBe(shared);
  for (const seqs of sharedSeqs.values()) expect(seqs.size).toBe(1);
  // Each keyed batch was stored by one worker (`replayed: false`); every other one was told it was replayed.
  expect([...stored.values()]).toEqual(Array.from({ length: shared }, () => 1));
  // Seqs of plain appends are unique.
  const plain = records.filter((r) => r.key === undefined).map((r) => r.seq);
  expect(new Set(plain).size).toBe(plain.length);
}

const workload = { count: 200, shared: 30, concurrency: 8 };

describe('two processes appending to one session', () => {
  it('on one Redis: nothing lost, each message once, seqs unique, keyed batches once', async () => {
    const common = {
      backend: 'redis',
      target: redis.url,
      namespace: 'mp',
      task: 'append-many',
      sessionId: 'busy',
    };
    const reports = await runTogether([
      { ...common, worker: 'a', ...workload },
      { ...common, worker: 'b', ...workload },
    ] as ChildConfig[]);
    const keyv = new Keyv({ store: new KeyvRedis(redis.url), namespace: 'mp' });
    opened.push(keyv);
    const loaded = await new KeyvSessionStore({ keyv }).load('busy');
    checkHistory(loaded!.messages, reports, { workers: ['a', 'b'], ...workload });
  });

  it.each([
    ['rollback journal', 'DELETE'],
    ['WAL', 'WAL'],
  ])(
    'on one SQLite file (%s): nothing lost, each message once, seqs unique, keyed batches once',
    async (_name, mode) => {
      const file = await tempFile();
      const keyv = new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${file}` }) });
      opened.push(keyv);
      const [row] = (await (keyv.store as KeyvSqlite).query(`PRAGMA journal_mode=${mode}`)) as Array<{
        journal_mode: string;
      }>;
      expect(row?.journal_mode.toUpperCase()).toBe(mode);
      const common = { backend: 'sqlite', target: file, task: 'append-many', sessionId: 'busy' };
      const reports = await runTogether([
        { ...common, worker: 'a', ...workload },
        { ...common, worker: 'b', ...workload },
      ] as ChildConfig[]);
      const loaded = await new KeyvSessionStore({ keyv }).load('busy');
      checkHistory(loaded!.messages, reports, { workers: ['a', 'b'], ...workload });
    },
  );
});

/**
 * Follows a session's state as a long-lived `Session` does, until `done` settles: `loadSince` with
 * the cursor and state version of the last tail, taking in each state answered and keeping the
 * one held when told `stateUnchanged`; then one last `loadSince`. Every state taken in counts at
 * least as high as the one before (the writers only increment). Returns the state held at the end.
 */
async function followState(
  store: KeyvSessionStore,
  sessionId: string,
  done: Promise<unknown>,
): Promise<SessionState | undefined> {
  let finished = false;
  const settled = done.finally(() => {
    finished = true;
  });
  let held: SessionState | undefined;
  let cursor: HistoryCursor | undefined;
  const follow = async (): Promise<void> => {
    const tail = await store.loadSince(sessionId, cursor);
    if (tail === undefined) return;
    if (tail.stateUnchanged === true) {
      expect(tail.state).toBeUndefined();
      expect(tail.stateVersion).toBe(cursor?.stateVersion);
    } else {
      expect((tail.state?.data.n as number) ?? 0).toBeGreaterThanOrEqual((held?.data.n as number) ?? 0);
      held = tail.state;
    }
    cursor = { seq: tail.seq, epoch: tail.epoch };
    if (tail.stateVersion !== undefined) cursor.stateVersion = tail.stateVersion;
  };
  while (!finished) {
    await follow();
    await sleep(1);
  }
  await settled;
  await follow();
  return held;
}

describe('two processes incrementing one state with updateState', () => {
  const increments = { count: 100, concurrency: 8 };
  /**
   * Two workers increment (and append) on `common`'s session at once while a reader here follows
   * its state: no increment lost, every append there, the reader holding the last state written.
   */
  async function incrementTogether(store: KeyvSessionStore, common: Record<string, unknown>): Promise<void> {
    const running = runTogether([
      { ...common, worker: 'a', ...increments },
      { ...common, worker: 'b', ...increments },
    ] as ChildConfig[]);
    const held = await followState(store, 'counted', running);
    const reports = await running;
    const loaded = await store.load('counted');
    checkCounts(reports, loaded?.state);
    expect(held).toEqual(loaded?.state);
    expect(new Set(loaded?.messages.map((m) => m.id)).size).toBe(2 * increments.count);
  }

  /** Every increment saw the one before it, whichever process wrote that: 1..200, each once. */
  function checkCounts(reports: Report[], state: { data: Record<string, unknown> } | undefined): void {
    const written = reports.flatMap((report) => report.result as number[]).sort((x, y) => x - y);
    expect(written).toEqual(Array.from({ length: 2 * increments.count }, (_, i) => i + 1));
    expect(state?.data).toEqual({ n: 2 * increments.count });
  }

  it('on one Redis: no increment lost, the appends all there, a reader following the state sees the last', async () => {
    const common = {
      backend: 'redis',
      target: redis.url,
      namespace: 'mp-update',
      task: 'increment-many',
      sessionId: 'counted',
    };
    const keyv = new Keyv({ store: new KeyvRedis(redis.url), namespace: 'mp-update' });
    opened.push(keyv);
    const store = new KeyvSessionStore({ keyv });
    await incrementTogether(store, common);
  });

  it.each([
    ['rollback journal', 'DELETE'],
    ['WAL', 'WAL'],
  ])(
    'on one SQLite file (%s): no increment lost, the appends all there, a reader following the state sees the last',
    async (_name, mode) => {
      const file = await tempFile();
      const keyv = new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${file}` }) });
      opened.push(keyv);
      await (keyv.store as KeyvSqlite).query(`PRAGMA journal_mode=${mode}`);
      const common = { backend: 'sqlite', target: file, task: 'increment-many', sessionId: 'counted' };
      const store = new KeyvSessionStore({ keyv });
      await incrementTogether(store, common);
    },
  );
});

describe('a generic adapter shared by two processes', () => {
  async function plainStore(file: string): Promise<KeyvSessionStore> {
    const sqlite = new KeyvSqlite({ uri: `sqlite://${file}`, busyTimeout: 10_000 });
    const keyv = new Keyv({ store: new PlainAdapter(sqlite) });
    opened.push(keyv);
    return new KeyvSessionStore({ keyv });
  }
  const message = {
    id: 'm_parent',
    role: 'user',
    content: 'hi',
    createdAt: '2025-01-01T00:00:00.000Z',
  } as const;

  it('refuses the second writer with a ConflictError until the first one closes its store', async () => {
    const file = await tempFile();
    const holder = new Child({ backend: 'plain', target: file, task: 'hold', sessionId: 's1', worker: 'a' });
    await holder.ready();
    holder.send('go');
    const report = await holder.report();
    expect(report.result).toEqual({ seq: 1 });
    const store = await plainStore(file);
    expect(store.multiProcess).toBe(false);
    const refused = await store.append('s1', [message]).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'conflict' });
    expect((refused as Error).message).toContain(`pid ${report.pid}`);
    // Reads are not refused; nothing was written by the refused append.
    expect((await store.load('s1'))?.messages.map((m) => m.id)).toEqual(['a_hold']);
    holder.send('close');
    await holder.exited;
    expect(await store.append('s1', [message])).toEqual({ seq: 2 });
  });

  it('takes over at once from a writer that was killed (same host, its pid gone)', async () => {
    const file = await tempFile();
    const holder = new Child({ backend: 'plain', target: file, task: 'hold', sessionId: 's1', worker: 'a' });
    await holder.ready();
    holder.send('go');
    expect((await holder.report()).result).toEqual({ seq: 1 });
    holder.process.kill('SIGKILL');
    await holder.exited;
    const store = await plainStore(file);
    expect(await store.append('s1', [message])).toEqual({ seq: 2 });
  });

  it('requireMultiProcess refuses such an adapter up front', async () => {
    const file = await tempFile();
    const sqlite = new KeyvSqlite({ uri: `sqlite://${file}` });
    const keyv = new Keyv({ store: new PlainAdapter(sqlite) });
    opened.push(keyv);
    expect(() => new KeyvSessionStore({ keyv, requireMultiProcess: true })).toThrow(
      expect.objectContaining({ code: 'invalid_input', message: expect.stringContaining('@keyv/redis') }),
    );
  });
});
