import { describe, expect, it } from 'vitest';
import { rejectionOf } from './index.js';

describe('rejectionOf', () => {
  it('returns what the promise rejects with', async () => {
    const error = new Error('boom');
    expect(await rejectionOf(Promise.reject(error))).toBe(error);
    expect(await rejectionOf(Promise.reject('plain'))).toBe('plain');
  });

  it('throws when the promise fulfils', async () => {
    await expect(rejectionOf(Promise.resolve(1))).rejects.toThrow(/expected the promise to reject/);
  });
});
