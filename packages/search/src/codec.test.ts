import { describe, expect, it } from 'vitest';
import { ByteWriter, fromBase64, readVarints, toBase64, writeVarint } from './codec.js';

describe('varints', () => {
  it('round-trip values from 0 to 2^28 - 1, small ones in one byte', () => {
    const values = [0, 1, 127, 128, 300, 16_383, 16_384, 2 ** 21, 2 ** 28 - 1];
    const out = new ByteWriter();
    for (const v of values) writeVarint(out, v);
    expect(Array.from(readVarints(out.bytes()))).toEqual(values);
    const one = new ByteWriter();
    writeVarint(one, 127);
    expect(one.bytes().length).toBe(1);
  });

  it('grows past the initial buffer', () => {
    const out = new ByteWriter();
    const values = Array.from({ length: 5000 }, (_, i) => i * 37);
    for (const v of values) writeVarint(out, v);
    expect(Array.from(readVarints(out.bytes()))).toEqual(values);
  });

  it('refuses values out of range and streams cut short or too long', () => {
    expect(() => writeVarint(new ByteWriter(), -1)).toThrow(RangeError);
    expect(() => writeVarint(new ByteWriter(), 2 ** 28)).toThrow(RangeError);
    expect(() => readVarints(Uint8Array.of(0x80))).toThrow(RangeError);
    expect(() => readVarints(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0x01))).toThrow(RangeError);
    expect(readVarints(new Uint8Array(0)).length).toBe(0);
  });
});

describe('base64', () => {
  it('round-trips bytes', () => {
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7919) % 256);
    expect(Array.from(fromBase64(toBase64(bytes)))).toEqual(Array.from(bytes));
    expect(toBase64(new Uint8Array(0))).toBe('');
  });

  it('encodes a view of a larger buffer, not the whole buffer', () => {
    const whole = Uint8Array.of(1, 2, 3, 4, 5);
    expect(Array.from(fromBase64(toBase64(whole.subarray(1, 3))))).toEqual([2, 3]);
  });

  it('refuses text of a length base64 never has', () => {
    expect(() => fromBase64('abc')).toThrow(RangeError);
  });
});
