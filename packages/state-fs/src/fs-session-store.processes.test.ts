// Crash and multi-process behaviour, with real child processes running the built package
// (`dist/`): build first (`npx turbo run build --filter=@sessions/state-fs...`).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFile, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Message } from '@sessions/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FsSessionStore, type FsSessionStoreWarning } from './index.js';

const packageDir = resolve(import.meta.dirname, '..');
const fixtures = join(packageDir, 'test', 'fixtures');

/** Newest modification time of the source files (not tests) under `dir`, in ms. */
async function newest(dir: string): Promise<number> {
  let latest = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && !entry.name.endsWith('.test.ts'))
      latest = Math.max(latest, (await stat(join(entry.parentPath, entry.name))).mtimeMs);
  }
  return latest;
}

beforeAll(async () => {
  for (const pkg of ['state-fs', 'core']) {
    const dir = resolve(packageDir, '..', pkg);
    const built = await stat(join(dir, 'dist', 'index.js')).catch(() => undefined);
    if (!built || built.mtimeMs < (await newest(join(dir, 'src'))) - 1) {
      throw new Error(
        `packages/${pkg}/dist is missing or older than its src: run \`npx turbo run build --filter=@sessions/state-fs...\` first`,
      );
    }
  }
});

const temps: string[] = [];
const children: ChildProcess[] = [];
async function tempRoot(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'state-fs-proc-'));
  temps.push(dir);
  return join(dir, 'sessions');
}
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});
afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

interface Child {
  process: ChildProcess;
  /** Complete stdout lines so far. */
  lines: string[];
  /** Resolves once a line satisfies `predicate`. */
  waitFor: (predicate: (lines: string[]) => boolean) => Promise<void>;
  exited: Promise<number | null>;
}

interface AppendChildConfig {
  root: string;
  sessionId: string;
  prefix: string;
  /** `null`: append until killed. */
  count: number | null;
  concurrent?: boolean;
  /** With `concurrent`: this many appends at once, then the next this many. */
  wave?: number;
  keyed?: boolean;
  store?: { lockStaleMs?: number; lockHoldMs?: number };
}

function appendChild(config: AppendChildConfig): Child {
  return run('append-child.mjs', [JSON.stringify(config)]);
}

/**
 * Starts two children (configs `a` and `b`), lets both go at once when both are ready, and waits
 * for both to exit with 0: the two processes then ran side by side.
 */
async function runPair<C>(start: (config: C) => Child, a: C, b: C): Promise<[Child, Child]> {
  const pair: [Child, Child] = [start(a), start(b)];
  await Promise.all(pair.map((child) => child.waitFor((l) => l.includes('ready'))));
  for (const child of pair) child.process.stdin!.write('go\n');
  for (const child of pair) expect(await child.exited).toBe(0);
  return pair;
}

/** Runs a fixture script; with `fileSizeKiB`, under that file-size limit (`ulimit -f`: writes past it fail with EFBIG). */
function run(script: string, args: string[], fileSizeKiB?: number): Child {
  const command = [process.execPath, join(fixtures, script), ...args];
  const child =
    fileSizeKiB === undefined
      ? spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn('bash', ['-c', `ulimit -f ${fileSizeKiB} && exec "$0" "$@"`, ...command], {
          stdio: ['pipe', 'pipe', 'pipe'],
        });
  children.push(child);
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  const waiters: Array<{ predicate: (lines: string[]) => boolean; resolve: () => void }> = [];
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
    for (const waiter of [...waiters]) {
      if (waiter.predicate(lines)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    process: child,
    lines,
    exited,
    waitFor: (predicate) =>
      predicate(lines)
        ? Promise.resolve()
        : new Promise((resolvePromise, reject) => {
            waiters.push({ predicate, resolve: resolvePromise });
            void exited.then((code) => reject(new Error(`${script} exited (${code}) early: ${stderr}`)));
          }),
  };
}

/** `index seq` lines → acknowledged appends. */
function acks(lines: string[]): Array<{ index: number; seq: number }> {
  return lines
    .filter((line) => /^\d+ \d+$/.test(line))
    .map((line) => {
      const [index, seq] = line.split(' ').map(Number);
      return { index: index!, seq: seq! };
    });
}

function message(n: number): Message {
  return {
    id: `after_${n}`,
    role: 'assistant',
    content: `after ${n}`,
    createdAt: '2025-01-01T00:00:00.000Z',
  };
}

describe('FsSessionStore across processes', () => {
  it('a process killed mid-append loses no acknowledged message; the store opens and appends', async () => {
    const root = await tempRoot();
    const child = appendChild({
      root,
      sessionId: 'crash',
      prefix: 'crash',
      count: null,
      store: { lockStaleMs: 2000 },
    });
    await child.waitFor((lines) => acks(lines).length >= 60);
    child.process.kill('SIGKILL');
    await child.exited;
    const acknowledged = acks(child.lines);
    expect(acknowledged.length).toBeGreaterThanOrEqual(60);

    const warnings: FsSessionStoreWarning[] = [];
    const store = new FsSessionStore({ root, lockStaleMs: 2000, onWarning: (w) => warnings.push(w) });
    const loaded = await store.load('crash');
    const ids = loaded!.messages.map((m) => m.id);
    for (const { index, seq } of acknowledged) expect(ids[seq - 1]).toBe(`crash_${index}`);
    // In order, each once: at most the one append in flight was stored without its ack.
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => `crash_${i}`));
    expect(ids.length - acknowledged.length).toBeLessThanOrEqual(1);

    // The lock the child may have held is taken over, and appends go on.
    expect(await store.append('crash', [message(1)])).toEqual({ seq: ids.length + 1 });
    const reloaded = await new FsSessionStore({ root }).load('crash');
    expect(reloaded!.messages.map((m) => m.id)).toEqual([...ids, 'after_1']);
    expect(warnings.filter((w) => w.code !== 'torn_tail')).toEqual([]);
  });

  it('a process killed while writing groups of concurrent appends loses no acknowledged message', async () => {
    const root = await tempRoot();
    const child = appendChild({
      root,
      sessionId: 'crash',
      prefix: 'crash',
      count: null,
      concurrent: true,
      wave: 32,
      store: { lockStaleMs: 2000 },
    });
    await child.waitFor((lines) => lines.includes('ready'));
    child.process.stdin!.write('go\n');
    await child.waitFor((lines) => acks(lines).length >= 300);
    child.process.kill('SIGKILL');
    await child.exited;
    const acknowledged = acks(child.lines);

    const warnings: FsSessionStoreWarning[] = [];
    const store = new FsSessionStore({ root, lockStaleMs: 2000, onWarning: (w) => warnings.push(w) });
    const ids = (await store.load('crash'))!.messages.map((m) => m.id);
    for (const { index, seq } of acknowledged) expect(ids[seq - 1]).toBe(`crash_${index}`);
    // In arrival order, each once: only appends of the last wave may be stored without their ack.
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => `crash_${i}`));
    expect(ids.length - acknowledged.length).toBeLessThanOrEqual(32);
    expect(await store.append('crash', [message(1)])).toEqual({ seq: ids.length + 1 });
    expect(warnings.filter((w) => w.code !== 'torn_tail')).toEqual([]);
  });

  it('a group whose write fails half way (file size limit) is refused whole and taken back out of the file', async () => {
    const root = await tempRoot();
    const store = new FsSessionStore({ root });
    await store.append(
      'full',
      Array.from({ length: 10 }, (_, i) => message(i)),
    );
    await store.close();
    const file = join(root, 'full', 'messages.jsonl');
    const before = (await stat(file)).size;
    // Room for a few small appends more (about 200 bytes each), not for a big one.
    const limitKiB = Math.ceil(before / 1024) + 4;
    const small = Array.from({ length: 6 }, () => 100);
    const rounds = [
      { prefix: 'small', sizes: small },
      // Written as one group (the first one may go alone): its small appends before the big one
      // are written whole before the write fails, and must not stay.
      { prefix: 'mixed', sizes: [100, 100, 100, 6000, 100] },
      { prefix: 'later', sizes: small },
    ];
    const child = run('fill-child.mjs', [JSON.stringify({ root, sessionId: 'full', rounds })], limitKiB);
    expect(await child.exited).toBe(0);
    expect(child.lines.filter((line) => line.startsWith('warning'))).toEqual([]);
    type Outcome = { index: number; seq?: number; code?: string };
    const [first, mixed, later] = child.lines
      .filter((line) => line.startsWith('['))
      .map((line) => JSON.parse(line) as Outcome[]);
    expect(first).toEqual(small.map((_, index) => ({ index, seq: 11 + index })));
    // The first append of the round either went alone (and is stored) or with the group.
    const alone = mixed![0]!.seq !== undefined;
    expect(mixed).toEqual([
      alone ? { index: 0, seq: 17 } : { index: 0, code: 'EFBIG' },
      ...[1, 2, 3, 4].map((index) => ({ index, code: 'EFBIG' })),
    ]);
    // The refused bytes were cut off: the next appends fit again, and their seqs follow.
    const next = alone ? 18 : 17;
    expect(later).toEqual(small.map((_, index) => ({ index, seq: next + index })));

    const warnings: FsSessionStoreWarning[] = [];
    const loaded = await new FsSessionStore({ root, onWarning: (w) => warnings.push(w) }).load('full');
    expect(loaded!.messages.map((m) => m.id)).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `after_${i}`),
      ...small.map((_, i) => `small_${i}`),
      ...(alone ? ['mixed_0'] : []),
      ...small.map((_, i) => `later_${i}`),
    ]);
    expect(warnings).toEqual([]);
  });

  it('a torn last line left by a crash is skipped with a warning and repaired by the next append', async () => {
    const root = await tempRoot();
    const child = appendChild({ root, sessionId: 'torn', prefix: 'torn', count: 20 });
    expect(await child.exited).toBe(0);
    const file = join(root, 'torn', 'messages.jsonl');
    await appendFile(file, '{"id":"torn_20","role":"user","cont');

    const warnings: FsSessionStoreWarning[] = [];
    const store = new FsSessionStore({ root, onWarning: (w) => warnings.push(w) });
    const loaded = await store.load('torn');
    expect(loaded!.messages.map((m) => m.id)).toEqual(Array.from({ length: 20 }, (_, i) => `torn_${i}`));
    expect(warnings).toEqual([expect.objectContaining({ code: 'torn_tail', file })]);
    expect(await store.append('torn', [message(1)])).toEqual({ seq: 21 });
    const again = await new FsSessionStore({ root, onWarning: (w) => warnings.push(w) }).load('torn');
    expect(again!.messages.at(-1)).toEqual(message(1));
    expect(again!.messages).toHaveLength(21);
    expect(warnings).toHaveLength(2); // the skip on load, the repair on append; none after
  });

  it.each([
    { lockHoldMs: 0, wave: 2, what: 'lock taken per group, 2 at a time' },
    { lockHoldMs: 5, wave: 10, what: 'lock kept between groups (default), 10 at a time' },
    { lockHoldMs: 5, wave: undefined, what: 'lock kept, all 200 at once' },
  ])(
    'two processes appending 200 messages each at once lose nothing, each stored once, seqs unique ($what)',
    async ({ lockHoldMs, wave }) => {
      /** One run of the two processes: checks that nothing was lost; answers the stored ids. */
      const runBoth = async (): Promise<string[]> => {
        const root = await tempRoot();
        const common = {
          root,
          sessionId: 'shared',
          count: 200,
          concurrent: true,
          wave,
          store: { lockHoldMs },
        };
        const [a, b] = await runPair(appendChild, { ...common, prefix: 'a' }, { ...common, prefix: 'b' });

        const ackA = acks(a.lines);
        const ackB = acks(b.lines);
        expect(ackA).toHaveLength(200);
        expect(ackB).toHaveLength(200);
        const seqs = [...ackA, ...ackB].map((x) => x.seq).sort((x, y) => x - y);
        expect(seqs).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));

        const store = new FsSessionStore({ root });
        const ids = (await store.load('shared'))!.messages.map((m) => m.id);
        expect(ids).toHaveLength(400);
        expect(new Set(ids).size).toBe(400);
        for (const { index, seq } of ackA) expect(ids[seq - 1]).toBe(`a_${index}`);
        for (const { index, seq } of ackB) expect(ids[seq - 1]).toBe(`b_${index}`);
        return ids;
      };
      /** Whether the two processes' appends interleaved in the file (each began before the other ended). */
      const interleaved = (ids: string[]): boolean => {
        const firstA = ids.findIndex((id) => id.startsWith('a_'));
        const firstB = ids.findIndex((id) => id.startsWith('b_'));
        const lastA = ids.findLastIndex((id) => id.startsWith('a_'));
        const lastB = ids.findLastIndex((id) => id.startsWith('b_'));
        return Math.max(firstA, firstB) < Math.min(lastA, lastB);
      };
      let ids = await runBoth();
      if (lockHoldMs === 0) {
        // The processes must really have interleaved at least once (the lock, not luck, kept the
        // count right). On a loaded machine one child may finish before the other starts: run again
        // (every run is checked in full), a few times at most.
        for (let attempt = 1; attempt < 5 && !interleaved(ids); attempt++) ids = await runBoth();
        expect(interleaved(ids)).toBe(true);
      }
    },
  );

  it('tails chained by loadSince while another process appends add up to the whole history', async () => {
    const root = await tempRoot();
    const store = new FsSessionStore({ root });
    await store.append('shared', [message(0)]);
    const writer = appendChild({ root, sessionId: 'shared', prefix: 'child', count: 300 });
    const held: Message[] = [];
    let cursor: { seq: number; epoch: string } | undefined;
    let tails = 0;
    const read = async (): Promise<void> => {
      const tail = (await store.loadSince('shared', cursor))!;
      if (tail.from === 0) held.length = 0;
      expect(tail.from).toBe(held.length);
      held.push(...tail.messages);
      expect(held).toHaveLength(tail.seq);
      if (tail.messages.length > 0 && tail.from > 0) tails += 1;
      cursor = { seq: tail.seq, epoch: tail.epoch };
    };
    let own = 1;
    while (writer.process.exitCode === null) {
      await read();
      // This process appends too, between the child's appends.
      if (own < 40) await store.append('shared', [message(own++)]);
    }
    expect(await writer.exited).toBe(0);
    await read();
    const all = (await store.load('shared'))!.messages;
    expect(held).toEqual(all);
    expect(all.filter((m) => m.id.startsWith('child_'))).toHaveLength(300);
    // Most reads continued a cursor rather than reading everything again.
    expect(tails).toBeGreaterThan(0);
  });

  it('two processes appending with the same idempotency keys store each key once', async () => {
    const root = await tempRoot();
    const common = {
      root,
      sessionId: 'keyed',
      count: 100,
      concurrent: true,
      wave: 10,
      keyed: true,
      store: { lockHoldMs: 0 },
    };
    const [a, b] = await runPair(appendChild, { ...common, prefix: 'a' }, { ...common, prefix: 'b' });

    const ids = (await new FsSessionStore({ root }).load('keyed'))!.messages.map((m) => m.id);
    expect(ids).toHaveLength(100);
    const seqOfA = new Map(acks(a.lines).map(({ index, seq }) => [index, seq]));
    const seqOfB = new Map(acks(b.lines).map(({ index, seq }) => [index, seq]));
    for (let i = 0; i < 100; i++) {
      // Both processes were told the same seq for key_i, and that slot holds one of their messages.
      expect(seqOfA.get(i)).toBe(seqOfB.get(i));
      expect([`a_${i}`, `b_${i}`]).toContain(ids[seqOfA.get(i)! - 1]);
    }
    expect(new Set(ids.map((id) => id.slice(2))).size).toBe(100);
  });

  it.each([
    { lockHoldMs: 0, wave: 4, what: 'lock taken per update, 4 at a time' },
    { lockHoldMs: 5, wave: undefined, what: 'lock kept (default), all at once' },
  ])(
    'two processes incrementing one state with updateState lose no increment, with appends between ($what)',
    async ({ lockHoldMs, wave }) => {
      const root = await tempRoot();
      const common = { root, sessionId: 'counted', count: 100, wave, appendEvery: 5, store: { lockHoldMs } };
      const [a, b] = await runPair(
        (config: object) => run('update-state-child.mjs', [JSON.stringify(config)]),
        { ...common, prefix: 'a' },
        { ...common, prefix: 'b' },
      );
      const written = (lines: string[]): number[] => lines.filter((line) => /^\d+$/.test(line)).map(Number);
      // Every increment saw the one before it, whichever process wrote that: 1..200, each once.
      const all = [...written(a.lines), ...written(b.lines)].sort((x, y) => x - y);
      expect(all).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      if (lockHoldMs === 0) {
        // The processes really interleaved (the lock, not luck, kept the count right).
        const ofA = written(a.lines);
        const ofB = written(b.lines);
        expect(Math.max(ofA[0]!, ofB[0]!)).toBeLessThan(Math.min(ofA.at(-1)!, ofB.at(-1)!));
      }
      const loaded = await new FsSessionStore({ root }).load('counted');
      expect(loaded?.state?.data).toEqual({ n: 200 });
      const ids = loaded!.messages.map((m) => m.id);
      expect(ids).toHaveLength(40);
      expect(new Set(ids).size).toBe(40);
    },
  );

  it('a lock held by a live process times out; once its holder is killed it is taken over', async () => {
    const root = await tempRoot();
    const store = new FsSessionStore({ root, lockStaleMs: 2000 });
    await store.append('held', [message(1)]);
    const lockPath = join(root, 'held', '.lock');
    const holder = run('hold-lock.mjs', [lockPath, '2000']);
    await holder.waitFor((lines) => lines.includes('locked'));

    const impatient = new FsSessionStore({ root, lockStaleMs: 2000, lockTimeoutMs: 2500 });
    await expect(impatient.append('held', [message(2)])).rejects.toMatchObject({ code: 'timeout' });

    holder.process.kill('SIGKILL');
    await holder.exited;
    await expect(stat(lockPath)).resolves.toBeDefined(); // left behind by the dead holder
    expect(await store.append('held', [message(3)])).toEqual({ seq: 2 });
    expect((await store.load('held'))!.messages.map((m) => m.id)).toEqual(['after_1', 'after_3']);
  });
});
