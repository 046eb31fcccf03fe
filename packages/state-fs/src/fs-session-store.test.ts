import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Message,
  SessionCorruptError,
  type SessionState,
  type SessionSummary,
  SessionsError,
} from '@sessions/core';
import { rejectionOf, sessionStoreConformance, testMessage, testState } from '@sessions/testing';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsSessionStore, type FsSessionStoreWarning } from './index.js';

const temps: string[] = [];
async function tempRoot(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'state-fs-'));
  temps.push(dir);
  return join(dir, 'sessions');
}
afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('FsSessionStore', () => {
  sessionStoreConformance(
    async () => new FsSessionStore({ root: await tempRoot() }),
    { describe, it, expect, beforeEach, afterEach },
    { reopen: (store) => new FsSessionStore({ root: (store as FsSessionStore).root }) },
  );

  describe('on disk', () => {
    let root: string;
    let warnings: FsSessionStoreWarning[];
    let store: FsSessionStore;
    beforeEach(async () => {
      root = await tempRoot();
      warnings = [];
      store = new FsSessionStore({ root, onWarning: (w) => warnings.push(w) });
    });

    it('writes {root}/{id}/messages.jsonl (a header, then one message per line) and state.json', async () => {
      await store.append('s1', [testMessage(1), testMessage(2)], { idempotencyKey: 'k' });
      await store.append('s1', [testMessage(3)]);
      await store.append('s1', [testMessage(4)], { idempotencyKey: 'k2' });
      await store.saveState('s1', testState('s1', { data: { topic: 'x' } }));
      const lines = (await readFile(join(root, 's1', 'messages.jsonl'), 'utf8')).split('\n');
      expect(lines).toEqual([
        JSON.stringify({ schemaVersion: 1, sessionId: 's1' }),
        JSON.stringify({ batch: 2, key: 'k' }),
        JSON.stringify(testMessage(1)),
        JSON.stringify(testMessage(2)),
        JSON.stringify(testMessage(3)),
        JSON.stringify({ batch: 1, key: 'k2' }),
        JSON.stringify(testMessage(4)),
        '',
      ]);
      expect(JSON.parse(await readFile(join(root, 's1', 'state.json'), 'utf8'))).toEqual(
        testState('s1', { data: { topic: 'x' } }),
      );
      // No temp file is left behind, nor the lock once the store is closed.
      await store.close();
      expect((await readdir(join(root, 's1'))).sort()).toEqual(['messages.jsonl', 'state.json']);
    });

    it('a new store on the same root sees everything, idempotency keys included', async () => {
      await store.append('s1', [testMessage(1)], { idempotencyKey: 'turn-1' });
      await store.saveState('s1', testState('s1', { data: { a: 1 } }));
      const reopened = new FsSessionStore({ root });
      expect(await reopened.load('s1')).toEqual({
        state: testState('s1', { data: { a: 1 } }),
        messages: [testMessage(1)],
      });
      expect(await reopened.append('s1', [testMessage(1)], { idempotencyKey: 'turn-1' })).toEqual({
        seq: 1,
        replayed: true,
      });
      expect(await reopened.append('s1', [testMessage(2)])).toEqual({ seq: 2 });
      // The first store catches up with what the second appended.
      expect(await store.append('s1', [testMessage(3)])).toEqual({ seq: 3 });
      expect(await store.append('s1', [testMessage(1)], { idempotencyKey: 'turn-1' })).toEqual({
        seq: 1,
        replayed: true,
      });
      expect((await store.load('s1'))?.messages.map((m) => m.id)).toEqual(['msg_1', 'msg_2', 'msg_3']);
    });

    it('notices a session deleted and recreated by another store', async () => {
      const other = new FsSessionStore({ root });
      await store.append('s1', [testMessage(1)], { idempotencyKey: 'k' });
      await other.delete('s1');
      await other.append('s1', [testMessage(2)]);
      expect(await store.append('s1', [testMessage(3)], { idempotencyKey: 'k' })).toEqual({
        seq: 2,
        replayed: false,
      });
      expect((await store.load('s1'))?.messages.map((m) => m.id)).toEqual(['msg_2', 'msg_3']);
    });

    describe('loadSince', () => {
      const ids = (messages: readonly Message[] | undefined): string[] => (messages ?? []).map((m) => m.id);

      it('reads only the bytes after the cursor: damage before it is not even seen', async () => {
        await store.append('s1', [testMessage(1), testMessage(2)]);
        const first = (await store.loadSince('s1'))!;
        await store.append('s1', [testMessage(3)]);
        // Damage a line the cursor is past (same length, so offsets hold): load sees it, loadSince does not.
        const file = join(root, 's1', 'messages.jsonl');
        const text = await readFile(file, 'utf8');
        const line = JSON.stringify(testMessage(1));
        await writeFile(file, text.replace(line, `{${'x'.repeat(line.length - 2)}}`));
        await expect(store.load('s1')).rejects.toBeInstanceOf(SessionCorruptError);
        const tail = await store.loadSince('s1', { seq: first.seq, epoch: first.epoch });
        expect(tail).toMatchObject({ from: 2, seq: 3, epoch: first.epoch });
        expect(ids(tail?.messages)).toEqual(['msg_3']);
      });

      it('continues from what another store appended, and reads the whole file for a cursor it never saw', async () => {
        const other = new FsSessionStore({ root });
        await store.append('s1', [testMessage(1)]);
        const first = (await store.loadSince('s1'))!;
        await other.append('s1', [testMessage(2), testMessage(3)], { idempotencyKey: 'k' });
        await other.saveState('s1', testState('s1', { data: { by: 'other' } }));
        const tail = await store.loadSince('s1', { seq: first.seq, epoch: first.epoch });
        expect(tail).toMatchObject({ from: 1, seq: 3, state: testState('s1', { data: { by: 'other' } }) });
        expect(ids(tail?.messages)).toEqual(['msg_2', 'msg_3']);
        // A third store has no marks: it reads the whole file and still answers the tail.
        const third = new FsSessionStore({ root });
        const again = await third.loadSince('s1', { seq: 1, epoch: first.epoch });
        expect(again).toMatchObject({ from: 1, seq: 3, epoch: first.epoch });
        expect(ids(again?.messages)).toEqual(['msg_2', 'msg_3']);
        // And a tail after what this store appended itself.
        await store.append('s1', [testMessage(4)]);
        const last = await store.loadSince('s1', { seq: 3, epoch: first.epoch });
        expect(ids(last?.messages)).toEqual(['msg_4']);
      });

      it('gives the whole history of a session deleted and made again by another store', async () => {
        const other = new FsSessionStore({ root });
        await store.append('s1', [testMessage(1)]);
        const first = (await store.loadSince('s1'))!;
        await other.delete('s1');
        await other.append('s1', [testMessage(2), testMessage(3)]);
        const tail = await store.loadSince('s1', { seq: first.seq, epoch: first.epoch });
        expect(tail).toMatchObject({ from: 0, seq: 2 });
        expect(tail?.epoch).not.toBe(first.epoch);
        expect(ids(tail?.messages)).toEqual(['msg_2', 'msg_3']);
      });

      it('leaves out an append cut short, and warns of it once no append holds the lock', async () => {
        await store.append('s1', [testMessage(1)]);
        const first = (await store.loadSince('s1'))!;
        const file = join(root, 's1', 'messages.jsonl');
        const batch = `${JSON.stringify({ batch: 2 })}\n${JSON.stringify(testMessage(2))}\n${JSON.stringify(testMessage(3)).slice(0, 10)}`;
        await appendFile(file, batch);
        const tail = await store.loadSince('s1', { seq: first.seq, epoch: first.epoch });
        expect(tail).toMatchObject({ messages: [], from: 1, seq: 1 });
        // Written by no one holding the session's lock: what a crash leaves (an append in flight
        // holds the lock, and the bytes are looked at again only once it is released).
        expect(warnings).toEqual([expect.objectContaining({ code: 'torn_tail', file })]);
      });

      it('answers every state another store saved, however quickly, and a state.json changed in place', async () => {
        const other = new FsSessionStore({ root });
        await store.append('s1', [testMessage(1)]);
        const { epoch } = (await store.loadSince('s1'))!;
        for (let n = 0; n < 25; n++) {
          await other.saveState('s1', testState('s1', { data: { n } }));
          expect((await store.loadSince('s1', { seq: 1, epoch }))?.state?.data).toEqual({ n });
        }
        // Rewritten in place (same inode): still read again.
        const file = join(root, 's1', 'state.json');
        await writeFile(file, `${JSON.stringify(testState('s1', { data: { edited: true } }))}\n`);
        expect((await store.loadSince('s1', { seq: 1, epoch }))?.state?.data).toEqual({ edited: true });
        await writeFile(file, 'not json');
        await expect(store.loadSince('s1', { seq: 1, epoch })).rejects.toBeInstanceOf(SessionCorruptError);
      });

      it('answers a state without a history, and undefined for nothing', async () => {
        await store.saveState('s1', testState('s1'));
        expect(await store.loadSince('s1')).toEqual({
          state: testState('s1'),
          messages: [],
          from: 0,
          seq: 0,
          epoch: 'none',
        });
        expect(await store.loadSince('s2')).toBeUndefined();
      });
    });

    describe('concurrent appends to one session (written in groups)', () => {
      it('stores many appends made at once in arrival order, each seq right, durable for a new store', async () => {
        await store.append('s1', [testMessage(0)]);
        // Appends made at once, and more made while the first ones are being written.
        const batches = Array.from({ length: 300 }, (_, i) =>
          i % 3 === 0 ? [testMessage(1000 + i), testMessage(2000 + i)] : [testMessage(1000 + i)],
        );
        const keyOf = (i: number): string | undefined => (i % 5 === 0 ? `turn-${i}` : undefined);
        const appendAt = (i: number): Promise<{ seq: number }> => {
          const key = keyOf(i);
          return store.append('s1', batches[i]!, key === undefined ? {} : { idempotencyKey: key });
        };
        const results: Array<Promise<{ seq: number }>> = [];
        for (let i = 0; i < 200; i++) results.push(appendAt(i));
        await new Promise((resolveLater) => setImmediate(resolveLater));
        for (let i = 200; i < 300; i++) results.push(appendAt(i));
        const seqs = (await Promise.all(results)).map((r) => r.seq);

        let expected = 1;
        const expectedSeqs = batches.map((batch) => (expected += batch.length));
        expect(seqs).toEqual(expectedSeqs);
        const stored = [testMessage(0), ...batches.flat()];
        const reopened = new FsSessionStore({ root });
        expect((await reopened.load('s1'))?.messages).toEqual(stored);
        // Each append keeps its own lines (and batch line with its key) in the file.
        const text = await readFile(join(root, 's1', 'messages.jsonl'), 'utf8');
        const lines = [JSON.stringify({ schemaVersion: 1, sessionId: 's1' }), JSON.stringify(testMessage(0))];
        batches.forEach((batch, i) => {
          const key = keyOf(i);
          if (batch.length > 1 || key !== undefined) {
            lines.push(
              JSON.stringify(key === undefined ? { batch: batch.length } : { batch: batch.length, key }),
            );
          }
          for (const m of batch) lines.push(JSON.stringify(m));
        });
        expect(text).toBe(`${lines.join('\n')}\n`);
        // The keys are known to a new store.
        expect(await reopened.append('s1', [testMessage(9)], { idempotencyKey: 'turn-15' })).toEqual({
          seq: seqs[15],
          replayed: true,
        });
        expect(warnings).toEqual([]);
      });

      it('answers duplicate keys within one group and already stored keys with the first seq, storing them once', async () => {
        await store.append('s1', [testMessage(1)], { idempotencyKey: 'old' });
        await store.close(); // the next appends wait for the lock together
        const results = await Promise.all([
          store.append('s1', [testMessage(2)], { idempotencyKey: 'k' }),
          store.append('s1', [testMessage(3)]),
          store.append('s1', [testMessage(22)], { idempotencyKey: 'k' }),
          store.append('s1', [testMessage(11)], { idempotencyKey: 'old' }),
          store.append('s1', []),
          store.append('s1', [testMessage(4), testMessage(5)], { idempotencyKey: 'k2' }),
          store.append('s1', [testMessage(44)], { idempotencyKey: 'k2' }),
          store.append('s1', [testMessage(222)], { idempotencyKey: 'k' }),
        ]);
        expect(results).toEqual([
          { seq: 2, replayed: false },
          { seq: 3 },
          { seq: 2, replayed: true },
          { seq: 1, replayed: true },
          { seq: 3 },
          { seq: 5, replayed: false },
          { seq: 5, replayed: true },
          { seq: 2, replayed: true },
        ]);
        const ids = ['msg_1', 'msg_2', 'msg_3', 'msg_4', 'msg_5'];
        expect((await new FsSessionStore({ root }).load('s1'))?.messages.map((m) => m.id)).toEqual(ids);
        // And again, now that all are stored.
        expect(
          await Promise.all([
            store.append('s1', [testMessage(9)], { idempotencyKey: 'k2' }),
            store.append('s1', [testMessage(9)], { idempotencyKey: 'k' }),
          ]),
        ).toEqual([
          { seq: 5, replayed: true },
          { seq: 2, replayed: true },
        ]);
        expect((await store.load('s1'))?.messages.map((m) => m.id)).toEqual(ids);
      });

      it('rejects every append of a group that fails, writes nothing of it, and goes on after', async () => {
        await store.append('s1', [testMessage(1), testMessage(2)]);
        await store.close();
        // Damage a line in the middle: the store that reads the file again refuses to append.
        const file = join(root, 's1', 'messages.jsonl');
        const text = await readFile(file, 'utf8');
        const line = JSON.stringify(testMessage(1));
        await writeFile(file, text.replace(line, `{${'x'.repeat(line.length - 2)}}`));
        const fresh = new FsSessionStore({ root });
        const outcomes = await Promise.allSettled([
          fresh.append('s1', [testMessage(3)]),
          fresh.append('s1', [testMessage(4)], { idempotencyKey: 'k' }),
          fresh.append('s1', [testMessage(5)], { idempotencyKey: 'k' }),
        ]);
        for (const outcome of outcomes) {
          expect(outcome.status).toBe('rejected');
          expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(SessionCorruptError);
        }
        expect(await readFile(file, 'utf8')).toBe(text.replace(line, `{${'x'.repeat(line.length - 2)}}`));
        // Repaired, the same store appends again: the failed group left nothing behind.
        await writeFile(file, text);
        expect(await fresh.append('s1', [testMessage(3)], { idempotencyKey: 'k' })).toEqual({
          seq: 3,
          replayed: false,
        });
        expect((await new FsSessionStore({ root }).load('s1'))?.messages.map((m) => m.id)).toEqual([
          'msg_1',
          'msg_2',
          'msg_3',
        ]);
      });

      it('keeps the order of calls: an append called after delete or saveState is not written before it', async () => {
        await store.append('s1', [testMessage(1)]);
        await store.close(); // the next append waits for the lock: later appends could join it
        const [first, , second, , third] = await Promise.all([
          store.append('s1', [testMessage(2)]),
          store.delete('s1'),
          store.append('s1', [testMessage(3)]),
          store.saveState('s1', testState('s1')),
          store.append('s1', [testMessage(4)]),
        ]);
        expect([first, second, third]).toEqual([{ seq: 2 }, { seq: 1 }, { seq: 2 }]);
        expect(await new FsSessionStore({ root }).load('s1')).toEqual({
          state: testState('s1'),
          messages: [testMessage(3), testMessage(4)],
        });
      });

      it('groups appends to one session only: other sessions and other stores keep their own', async () => {
        const other = new FsSessionStore({ root });
        const results = await Promise.all([
          store.append('a', [testMessage(1)]),
          store.append('b', [testMessage(2)]),
          other.append('a', [testMessage(3)]),
          store.append('a', [testMessage(4)]),
          other.append('b', [testMessage(5)]),
        ]);
        expect(results.map((r) => r.seq).sort()).toEqual([1, 1, 2, 2, 3]);
        const a = (await store.load('a'))!.messages.map((m) => m.id);
        const b = (await store.load('b'))!.messages.map((m) => m.id);
        expect([...a].sort()).toEqual(['msg_1', 'msg_3', 'msg_4']);
        expect(a.indexOf('msg_1')).toBeLessThan(a.indexOf('msg_4'));
        expect([...b].sort()).toEqual(['msg_2', 'msg_5']);
        expect(results[0]!.seq).toBe(a.indexOf('msg_1') + 1);
        expect(results[3]!.seq).toBe(a.indexOf('msg_4') + 1);
      });
    });

    it('skips a torn last line with a warning, and the next append does not glue onto it', async () => {
      await store.append('s1', [testMessage(1), testMessage(2)]);
      const file = join(root, 's1', 'messages.jsonl');
      const line = JSON.stringify(testMessage(3));
      await appendFile(file, line.slice(0, Math.floor(line.length / 2)));

      const fresh = new FsSessionStore({ root, onWarning: (w) => warnings.push(w) });
      expect((await fresh.load('s1'))?.messages).toEqual([testMessage(1), testMessage(2)]);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ code: 'torn_tail', file });
      expect(warnings[0]?.message).toContain(file);

      expect(await fresh.append('s1', [testMessage(4)])).toEqual({ seq: 3 });
      expect(warnings.map((w) => w.code)).toEqual(['torn_tail', 'torn_tail']);
      expect((await fresh.load('s1'))?.messages).toEqual([testMessage(1), testMessage(2), testMessage(4)]);
      expect(
        (await readFile(file, 'utf8')).endsWith(
          `${JSON.stringify(testMessage(2))}\n${JSON.stringify(testMessage(4))}\n`,
        ),
      ).toBe(true);
      // The store that cached the file before the damage catches up too.
      expect(await store.append('s1', [testMessage(5)])).toEqual({ seq: 4 });
      expect(warnings).toHaveLength(2);
    });

    it('warns of a torn last line on loadSince too (the read a Session makes), whole or tail', async () => {
      await store.append('s1', [testMessage(1), testMessage(2)]);
      const cursor = await store.loadSince('s1');
      const file = join(root, 's1', 'messages.jsonl');
      const line = JSON.stringify(testMessage(3));
      await appendFile(file, line.slice(0, Math.floor(line.length / 2)));

      const fresh = new FsSessionStore({ root, onWarning: (w) => warnings.push(w) });
      expect((await fresh.loadSince('s1'))?.messages).toEqual([testMessage(1), testMessage(2)]);
      expect(warnings).toEqual([expect.objectContaining({ code: 'torn_tail', file })]);

      // The store that wrote the two messages reads only what follows them: the torn bytes.
      const noisy = new FsSessionStore({ root, onWarning: (w) => warnings.push(w) });
      const seen = (await noisy.loadSince('s1'))!;
      warnings.length = 0;
      expect(await noisy.loadSince('s1', { seq: seen.seq, epoch: seen.epoch })).toMatchObject({
        messages: [],
        seq: 2,
      });
      expect(warnings.map((w) => w.code)).toEqual(['torn_tail']);
      expect(cursor?.seq).toBe(2);
    });

    it('drops a batch cut short (complete lines of an unfinished append) as a torn tail', async () => {
      await store.append('s1', [testMessage(1)]);
      const file = join(root, 's1', 'messages.jsonl');
      // The first two lines of a three-message append made with a key, then the crash.
      const batch = [
        JSON.stringify({ batch: 3, key: 'turn-2' }),
        JSON.stringify(testMessage(2)),
        JSON.stringify(testMessage(3)),
        '{"id":"msg_4","ro',
      ].join('\n');
      await appendFile(file, batch);
      expect((await store.load('s1'))?.messages).toEqual([testMessage(1)]);
      // The retried append is stored whole, once.
      expect(
        await store.append('s1', [testMessage(2), testMessage(3), testMessage(4)], {
          idempotencyKey: 'turn-2',
        }),
      ).toEqual({
        seq: 4,
        replayed: false,
      });
      expect((await store.load('s1'))?.messages.map((m) => m.id)).toEqual([
        'msg_1',
        'msg_2',
        'msg_3',
        'msg_4',
      ]);
      expect(warnings.every((w) => w.code === 'torn_tail')).toBe(true);
    });

    it('a history whose header itself is torn is empty, and the next append starts it over', async () => {
      const file = join(root, 's1', 'messages.jsonl');
      await mkdir(join(root, 's1'), { recursive: true });
      await writeFile(file, '{"schemaVers');
      expect(await store.load('s1')).toEqual({ state: undefined, messages: [] });
      expect(warnings.map((w) => w.code)).toEqual(['torn_tail']);
      expect(await store.append('s1', [testMessage(1)])).toEqual({ seq: 1 });
      expect(await readFile(file, 'utf8')).toBe(
        `${JSON.stringify({ schemaVersion: 1, sessionId: 's1' })}\n${JSON.stringify(testMessage(1))}\n`,
      );
    });

    it('a bad middle line is a SessionCorruptError naming the file and line', async () => {
      await store.append('s1', [testMessage(1), testMessage(2), testMessage(3)]);
      const file = join(root, 's1', 'messages.jsonl');
      const lines = (await readFile(file, 'utf8')).split('\n');
      lines[2] = '{"id":"msg_2",'; // damaged, then more lines follow
      await writeFile(file, lines.join('\n'));

      for (const reader of [store, new FsSessionStore({ root })]) {
        const error = await rejectionOf(reader.load('s1'));
        expect(error).toBeInstanceOf(SessionCorruptError);
        expect(SessionsError.is(error) && error.code).toBe('session_corrupt');
        expect((error as SessionCorruptError).file).toBe(file);
        expect((error as Error).message).toContain(file);
        expect((error as Error).message).toContain('line 3');
      }
      // Appending to a corrupt history is refused too: nothing is written after the damage.
      const fresh = new FsSessionStore({ root });
      expect(await rejectionOf(fresh.append('s1', [testMessage(4)]))).toBeInstanceOf(SessionCorruptError);
      expect((await readFile(file, 'utf8')).split('\n')).toEqual(lines);
    });

    it('an unknown schema version, a missing header or a line that is no message is a SessionCorruptError', async () => {
      const file = join(root, 's1', 'messages.jsonl');
      await mkdir(join(root, 's1'), { recursive: true });
      const header = JSON.stringify({ schemaVersion: 1 });
      const cases: Array<[string[], RegExp]> = [
        [
          [JSON.stringify({ schemaVersion: 2 }), JSON.stringify(testMessage(1))],
          /line 1: unknown schemaVersion 2/,
        ],
        [[JSON.stringify(testMessage(1))], /line 1: no header line/],
        [[header, JSON.stringify(testMessage(1)), '[1,2]'], /line 3: not a message/],
        [[header, JSON.stringify(testMessage(1)), header], /line 3: a header line in the middle/],
        [
          [
            header,
            JSON.stringify({ batch: 2 }),
            JSON.stringify(testMessage(1)),
            JSON.stringify({ batch: 1 }),
          ],
          /line 4/,
        ],
        [[header, '{"id":"a","role":"user"}{"id":"b","role":"user"}'], /line 2: not valid JSON/],
      ];
      for (const [lines, pattern] of cases) {
        await writeFile(file, `${lines.join('\n')}\n`);
        const error = await rejectionOf(new FsSessionStore({ root }).load('s1'));
        expect(error, lines.join(' / ')).toBeInstanceOf(SessionCorruptError);
        expect((error as Error).message).toMatch(pattern);
        expect((error as SessionCorruptError).file).toBe(file);
      }
    });

    it('a bad state.json is a SessionCorruptError naming it', async () => {
      await store.saveState('s1', testState('s1'));
      const file = join(root, 's1', 'state.json');
      for (const text of [
        '{"schemaVersion":1,',
        '[1]',
        JSON.stringify({ ...testState('s1'), schemaVersion: 9 }),
      ]) {
        await writeFile(file, text);
        const error = await rejectionOf(store.load('s1'));
        expect(error).toBeInstanceOf(SessionCorruptError);
        expect((error as SessionCorruptError).file).toBe(file);
      }
      await store.saveState('s1', testState('s1', { data: { fixed: true } }));
      expect((await store.load('s1'))?.state?.data).toEqual({ fixed: true });
    });

    it('refuses states it could not read back and messages that are not messages', async () => {
      const bad = { ...testState('s1'), schemaVersion: 2 } as unknown as SessionState;
      expect(await rejectionOf(store.saveState('s1', bad))).toMatchObject({ code: 'invalid_input' });
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      for (const messages of [
        'nope',
        [{ ...testMessage(1), role: 'robot' }],
        [{ ...testMessage(1), id: 5 }],
        [{ ...testMessage(1), content: undefined }],
        [{ ...testMessage(1), metadata: circular }],
        [{ ...testMessage(1), metadata: { n: 1n } }],
      ]) {
        expect(await rejectionOf(store.append('s1', messages as Message[]))).toMatchObject({
          code: 'invalid_input',
        });
      }
      expect(await store.load('s1')).toBeUndefined();
    });

    it('never writes outside root', async () => {
      const parent = join(root, '..');
      const before = (await readdir(parent)).sort();
      for (const id of ['../x', '..', '.', 'a/../../b', '/etc', 'a\\b', `${'../'.repeat(5)}tmp`]) {
        expect(await rejectionOf(store.append(id, [testMessage(1)]))).toMatchObject({
          code: 'invalid_input',
        });
        expect(await rejectionOf(store.saveState(id, testState('x')))).toMatchObject({
          code: 'invalid_input',
        });
        expect(await rejectionOf(store.delete(id))).toMatchObject({ code: 'invalid_input' });
      }
      expect((await readdir(parent)).sort()).toEqual(before);
    });

    it('delete removes the whole session folder, memory/ and knowledge/ included', async () => {
      await store.append('s1', [testMessage(1)]);
      await mkdir(join(root, 's1', 'memory'));
      await writeFile(join(root, 's1', 'memory', 'db.sqlite'), 'x');
      await mkdir(join(root, 's1', 'knowledge'));
      await store.append('s2', [testMessage(2)]);
      await store.delete('s1');
      expect(await readdir(root)).toEqual(['s2']);
    });

    it('list shows a session whose state.json is damaged by its id alone, with a warning, and lists the others', async () => {
      for (const id of ['a', 'b', 'c']) await store.saveState(id, testState(id, { userId: 'u' }));
      await store.append('b', [testMessage(1)]);
      const file = join(root, 'b', 'state.json');
      for (const text of [
        '{"schemaVersion":1,',
        '[1]',
        JSON.stringify({ ...testState('b'), schemaVersion: 9 }),
      ]) {
        await writeFile(file, text);
        warnings.length = 0;
        const rows: SessionSummary[] = [];
        for await (const row of store.list()) rows.push(row);
        expect(rows.map((row) => row.sessionId)).toEqual(['a', 'b', 'c']);
        expect(rows[1]).toEqual({
          sessionId: 'b',
          userId: undefined,
          createdAt: undefined,
          updatedAt: testMessage(1).createdAt,
        });
        expect(await rejectionOf(store.load('b'))).toMatchObject({ code: 'session_corrupt', file });
        const mine: string[] = [];
        for await (const row of store.list({ userId: 'u' })) mine.push(row.sessionId);
        expect(mine).toEqual(['a', 'c']);
        expect(warnings).toEqual([
          expect.objectContaining({ code: 'corrupt_state', file }),
          expect.objectContaining({ code: 'corrupt_state', file }),
        ]);
        expect(warnings[0]?.message).toContain(file);
      }
      await store.saveState('b', testState('b', { userId: 'u' }));
      expect(await collectIds(store)).toEqual(['a', 'b', 'c']);
    });

    it("list's updatedAt is the later of the state's and the last message's, as getContext() answers", async () => {
      await store.saveState('s1', testState('s1')); // updatedAt 2025-01-02
      await store.append('s1', [testMessage(1)]); // createdAt 2025-01-01: older
      await store.append('s2', [testMessage(2)]); // no state
      const updated = async (): Promise<Record<string, string | undefined>> => {
        const rows: Record<string, string | undefined> = {};
        for await (const row of store.list()) rows[row.sessionId] = row.updatedAt;
        return rows;
      };
      expect(await updated()).toEqual({ s1: '2025-01-02T00:00:00.000Z', s2: testMessage(2).createdAt });

      // A later turn appends messages without rewriting state.json.
      const long = testMessage(3, { content: 'x'.repeat(20_000), createdAt: '2025-03-01T00:00:00.000Z' });
      await store.append('s1', [long, testMessage(4, { createdAt: '2025-03-02T00:00:00.000Z' })], {
        idempotencyKey: 'turn',
      });
      expect((await updated()).s1).toBe('2025-03-02T00:00:00.000Z');
      await store.append('s1', [
        testMessage(5, { content: 'y'.repeat(20_000), createdAt: '2025-04-01T00:00:00.000Z' }),
      ]);
      expect((await updated()).s1).toBe('2025-04-01T00:00:00.000Z');

      // A torn tail (never acknowledged) is not a change.
      await appendFile(join(root, 's1', 'messages.jsonl'), '{"id":"msg_9","role":"user","createdAt":"2026');
      expect((await updated()).s1).toBe('2025-04-01T00:00:00.000Z');
      await store.saveState('s1', testState('s1', { updatedAt: '2025-05-01T00:00:00.000Z' }));
      expect((await updated()).s1).toBe('2025-05-01T00:00:00.000Z');

      // A batch cut short by a crash (2 of its 3 lines written) was never acknowledged either.
      const at = (n: number, day: string): Message => testMessage(n, { createdAt: `${day}T00:00:00.000Z` });
      await store.append('s3', [at(6, '2025-06-01'), at(7, '2025-06-02')], { idempotencyKey: 'whole' });
      await store.close();
      const lines = [at(8, '2025-09-09'), at(9, '2025-09-10')].map((m) => `${JSON.stringify(m)}\n`);
      await appendFile(join(root, 's3', 'messages.jsonl'), `{"batch":3}\n${lines.join('')}`);
      expect((await updated()).s3).toBe('2025-06-02T00:00:00.000Z');
      expect((await store.load('s3'))?.messages.at(-1)?.createdAt).toBe('2025-06-02T00:00:00.000Z');
    });

    it('list skips folders that hold no session and names that are not ids', async () => {
      await store.append('s1', [testMessage(1)]);
      await mkdir(join(root, 'only-memory', 'memory'), { recursive: true });
      await mkdir(join(root, 'not~an~id'));
      await writeFile(join(root, 'a-file'), 'x');
      expect(await collectIds(store)).toEqual(['s1']);
    });

    it('a stale lock left by a dead holder is taken over', async () => {
      await store.append('s1', [testMessage(1)]);
      await store.close();
      const lock = join(root, 's1', '.lock');
      await mkdir(lock);
      const old = new Date(Date.now() - 60_000);
      await utimes(lock, old, old);
      expect(await store.append('s1', [testMessage(2)])).toEqual({ seq: 2 });
      await store.close();
      await expect(readdir(join(root, 's1'))).resolves.not.toContain('.lock');
    });

    it('a lock that stays fresh makes the operation time out with a TimeoutError', async () => {
      const impatient = new FsSessionStore({ root, lockTimeoutMs: 200 });
      await mkdir(join(root, 's1', '.lock'), { recursive: true });
      const error = await rejectionOf(impatient.append('s1', [testMessage(1)]));
      expect(error).toMatchObject({ code: 'timeout' });
      expect((error as Error).message).toContain(join(root, 's1', '.lock'));
    });
  });
});

async function collectIds(store: FsSessionStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const row of store.list()) ids.push(row.sessionId);
  return ids;
}
