import { describe, expect, it } from 'vitest';
import { copyData } from './copy-data.js';
import { assertJsonValue, copyJsonValue } from './json-value.js';

describe('assertJsonValue', () => {
  it('accepts JSON and refuses what JSON would refuse or change, naming where it is', () => {
    expect(() =>
      assertJsonValue({ a: [1, 'x', true, null, { b: -2.5 }], c: undefined }, 'state'),
    ).not.toThrow();
    const circular: Record<string, unknown> = {};
    circular.self = { again: circular };
    const refused: Array<[unknown, string]> = [
      [{ data: { k: 1n } }, '"data.k" is a bigint'],
      [{ data: circular }, 'is a cycle'],
      [{ data: { m: new Map() } }, '"data.m" is a Map'],
      [{ data: { d: new Date(0) } }, '"data.d" is a Date'],
      [{ data: { n: Number.NaN } }, '"data.n" is NaN'],
      [{ data: { n: [0, Number.NEGATIVE_INFINITY] } }, '"data.n[1]" is -Infinity'],
      [{ data: { 'odd key': () => 1 } }, '"data["odd key"]" is a function'],
      [{ data: [undefined] }, '"data[0]" is undefined'],
      [Symbol('s'), 'it is a symbol'],
    ];
    for (const [value, text] of refused) {
      expect(() => assertJsonValue(value, 'state'), text).toThrow(
        expect.objectContaining({ code: 'invalid_input', message: expect.stringContaining(text) }),
      );
    }
  });

  it('refuses a structure nested too deeply for JSON with invalid_input', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(() => assertJsonValue(deep, 'state')).toThrow(expect.objectContaining({ code: 'invalid_input' }));
  });
});

describe('copyJsonValue', () => {
  it('copies as JSON gives back: a deep copy without the undefined properties', () => {
    const value = { a: { b: [1, { c: 'x' }] }, gone: undefined };
    const copy = copyJsonValue(value, 'state');
    expect(copy).toEqual(JSON.parse(JSON.stringify(value)));
    expect(Object.keys(copy)).toEqual(['a']);
    expect(copy.a).not.toBe(value.a);
    expect(copy.a.b[1]).not.toBe(value.a.b[1]);
  });

  it('keeps a "__proto__" key as JSON.parse makes it: an own property, at any depth', () => {
    const value = JSON.parse('{"__proto__":{"x":1},"data":{"__proto__":{"y":2}}}') as Record<string, unknown>;
    const copy = copyJsonValue(value, 'state');
    expect(JSON.stringify(copy)).toBe(JSON.stringify(value));
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.keys(copy)).toEqual(['__proto__', 'data']);
    expect(() => assertJsonValue(value, 'state')).not.toThrow();
    const copied = copyData(value);
    expect(JSON.stringify(copied)).toBe(JSON.stringify(value));
    expect(Object.getPrototypeOf(copied)).toBe(Object.prototype);
  });
});
