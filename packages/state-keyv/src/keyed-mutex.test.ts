import { KeyedMutex } from '@sessions/core';
import { describe, expect, it } from 'vitest';
import { processMutex } from './keyed-mutex.js';

// KeyedMutex itself is tested in @sessions/core.
describe('processMutex', () => {
  it('is one KeyedMutex per process', () => {
    expect(processMutex()).toBe(processMutex());
    expect(processMutex()).toBeInstanceOf(KeyedMutex);
  });
});
