import { describe, expect, it } from 'vitest';
import { newId } from './ids.js';

describe('newId', () => {
  it('makes 128-bit hex ids, with the prefix and an underscore when given one', () => {
    expect(newId()).toMatch(/^[0-9a-f]{32}$/);
    expect(newId('msg')).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(newId('sess')).toMatch(/^sess_[0-9a-f]{32}$/);
    expect(newId('é-😀')).toMatch(/^é-😀_[0-9a-f]{32}$/u);
  });

  it('never repeats, across refills of its random pool', () => {
    const ids = new Set(Array.from({ length: 2000 }, () => newId('msg')));
    expect(ids.size).toBe(2000);
    const digits = new Set([...ids].join('').replaceAll('msg_', ''));
    expect(digits.size).toBe(16);
  });
});
