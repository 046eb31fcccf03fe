import { describe, expect, it } from 'vitest';
import { isoTime } from './iso-time.js';

describe('isoTime', () => {
  it('answers toISOString, for the same millisecond again and for the next', () => {
    const at = new Date('2026-01-02T03:04:05.006Z');
    expect(isoTime(at)).toBe('2026-01-02T03:04:05.006Z');
    expect(isoTime(new Date(at.getTime()))).toBe('2026-01-02T03:04:05.006Z');
    expect(isoTime(new Date(at.getTime() + 1))).toBe('2026-01-02T03:04:05.007Z');
    expect(isoTime(at)).toBe('2026-01-02T03:04:05.006Z');
  });

  it('refuses an invalid date as toISOString does', () => {
    expect(() => isoTime(new Date(Number.NaN))).toThrow(RangeError);
  });
});
