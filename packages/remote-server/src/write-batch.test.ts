import { describe, expect, it, vi } from 'vitest';
import { writeBatch } from './write-batch.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('writeBatch', () => {
  it('runs the writes of one loop turn together, in order, after that turn', async () => {
    const write = writeBatch();
    const done: string[] = [];
    write(() => done.push('a'));
    await Promise.resolve();
    write(() => done.push('b'));
    process.nextTick(() => write(() => done.push('c')));
    expect(done).toEqual([]);
    await nextTurn();
    expect(done).toEqual(['a', 'b', 'c']);
  });

  it('puts a write given while a batch is written in the next batch', async () => {
    const write = writeBatch();
    const done: string[] = [];
    write(() => {
      done.push('first');
      write(() => done.push('later'));
    });
    await nextTurn();
    expect(done).toEqual(['first']);
    await nextTurn();
    expect(done).toEqual(['first', 'later']);
  });

  it('writes what became ready in an I/O callback before the loop waits again', async () => {
    const write = writeBatch();
    const done: string[] = [];
    await new Promise<void>((resolve) => {
      // A timer's callback stands for a socket's: the write comes in the same loop turn.
      setTimeout(() => {
        write(() => {
          done.push('written');
          resolve();
        });
      }, 0);
    });
    expect(done).toEqual(['written']);
  });

  it('runs every write of a batch when one throws, then throws its error', () => {
    let flush: (() => void) | undefined;
    const write = writeBatch({
      schedule: (run) => {
        flush = run;
      },
    });
    const done: string[] = [];
    write(() => done.push('a'));
    write(() => {
      throw new Error('boom');
    });
    write(() => done.push('c'));
    expect(flush).toThrow('boom');
    expect(done).toEqual(['a', 'c']);
  });

  it('writes while timers are faked (a test of an app that fakes them still gets its answers)', async () => {
    const write = writeBatch();
    vi.useFakeTimers();
    try {
      await new Promise<void>((resolve) => write(resolve));
    } finally {
      vi.useRealTimers();
    }
  });
});
