import { describe, expect, it } from 'vitest';
import { IdempotencyCache } from './idempotency-cache.js';

class Gone extends Error {}

describe('IdempotencyCache', () => {
  it('runs a key once and replays its answer', async () => {
    const cache = new IdempotencyCache<{ n: number }>();
    let runs = 0;
    const work = async (): Promise<{ n: number }> => ({ n: ++runs });
    expect(await cache.run('k', 'f', work)).toEqual({ value: { n: 1 }, replayed: false });
    expect(await cache.run('k', 'f', work)).toEqual({ value: { n: 1 }, replayed: true });
    expect(await cache.run('other', 'f', work)).toEqual({ value: { n: 2 }, replayed: false });
  });

  it('makes concurrent repeats wait for the first run', async () => {
    const cache = new IdempotencyCache<{ n: number }>();
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const work = async (): Promise<{ n: number }> => {
      runs += 1;
      await gate;
      return { n: runs };
    };
    const all = Promise.all([
      cache.run('k', 'f', work),
      cache.run('k', 'f', work),
      cache.run('k', 'f', work),
    ]);
    expect(cache.pendingCount).toBe(1);
    release();
    const results = await all;
    expect(runs).toBe(1);
    expect(results.map((r) => r.replayed)).toEqual([false, true, true]);
  });

  it('shares a failure with waiting repeats but keeps none: a later retry runs again', async () => {
    const cache = new IdempotencyCache<{ ok: boolean }>();
    let runs = 0;
    const failing = async (): Promise<{ ok: boolean }> => {
      runs += 1;
      await new Promise((resolve) => setTimeout(resolve, 10));
      throw new Error('model down');
    };
    const results = await Promise.allSettled([cache.run('k', 'f', failing), cache.run('k', 'f', failing)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(runs).toBe(1);
    expect(await cache.run('k', 'f', async () => ({ ok: true }))).toEqual({
      value: { ok: true },
      replayed: false,
    });
  });

  it('lets a waiting repeat run the work itself when the first caller went away', async () => {
    const cache = new IdempotencyCache<{ by: string }>({}, (error) => error instanceof Gone);
    const first = cache.run('k', 'f', async () => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      throw new Gone();
    });
    const second = cache.run('k', 'f', async () => ({ by: 'second' }));
    await expect(first).rejects.toBeInstanceOf(Gone);
    expect(await second).toEqual({ value: { by: 'second' }, replayed: false });
  });

  it('refuses a key reused with a different fingerprint', async () => {
    const cache = new IdempotencyCache<{ n: number }>();
    await cache.run('k', 'one', async () => ({ n: 1 }));
    await expect(cache.run('k', 'two', async () => ({ n: 2 }))).rejects.toMatchObject({ code: 'conflict' });
  });

  it('forgets answers after ttlMs', async () => {
    const cache = new IdempotencyCache<{ n: number }>({ ttlMs: 20 });
    let runs = 0;
    const work = async (): Promise<{ n: number }> => ({ n: ++runs });
    await cache.run('k', 'f', work);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect((await cache.run('k', 'f', work)).replayed).toBe(false);
    expect(runs).toBe(2);
  });
});
