import { describe, expect, it } from 'vitest';
import { KeyedMutex } from './keyed-mutex.js';

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1));

describe('KeyedMutex', () => {
  it('runs tasks of one key one at a time, in call order', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    let running = 0;
    const task = (name: string) => async (): Promise<string> => {
      running++;
      expect(running).toBe(1);
      log.push(`start ${name}`);
      await tick();
      log.push(`end ${name}`);
      running--;
      return name;
    };
    const results = await Promise.all(['a', 'b', 'c'].map((name) => mutex.run('k', task(name))));
    expect(results).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('runs tasks of different keys side by side, and goes on after a failure', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    const first = mutex.run('x', async () => {
      log.push('x start');
      await tick();
      log.push('x end');
      throw new Error('boom');
    });
    const other = mutex.run('y', async () => {
      log.push('y');
    });
    const next = mutex.run('x', async () => 'after');
    await expect(first).rejects.toThrow('boom');
    await other;
    expect(await next).toBe('after');
    expect(log).toEqual(['x start', 'y', 'x end']);
  });
});
