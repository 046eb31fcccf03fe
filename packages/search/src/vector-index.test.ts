import { describe, expect, it } from 'vitest';
import { VectorIndex } from './vector-index.js';

function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  a.forEach((x, i) => {
    dot += x * b[i]!;
    na += x * x;
    nb += b[i]! * b[i]!;
  });
  return dot / Math.sqrt(na * nb);
}

function similarities(index: VectorIndex, query: number[]): Map<number, number> {
  const out = new Map<number, number>();
  index.forEachSimilarity(index.normalise(query), (slot, value) => out.set(slot, value));
  return out;
}

describe('VectorIndex', () => {
  const vectors = [
    [1, 0, 0, 0, 2],
    [0, 3, 0, 1, 0],
    [1, 1, 1, 1, 1],
    [-1, 0, 0.5, 0, 0],
  ];

  it('computes cosine similarity over stored unit vectors', () => {
    const index = new VectorIndex();
    vectors.forEach((v, slot) => {
      index.set(slot, v);
    });
    const query = [0.5, 1, 0, 0, 1];
    const got = similarities(index, query);
    vectors.forEach((v, slot) => {
      expect(got.get(slot)).toBeCloseTo(cosine(v, query), 6);
    });
    expect(index.size).toBe(4);
    expect(index.dimensions).toBe(5);
  });

  it('fixes the dimensions with the first vector and refuses other lengths and bad values', () => {
    const index = new VectorIndex();
    expect(() => index.normalise([])).toThrow(RangeError);
    index.set(0, [1, 2, 3]);
    expect(() => index.set(1, [1, 2])).toThrow(RangeError);
    expect(() => index.normalise([1, Number.NaN, 3])).toThrow(RangeError);
    expect(() => new VectorIndex(4).set(0, [1, 2, 3])).toThrow(RangeError);
  });

  it('stores a zero vector as similar to nothing', () => {
    const index = new VectorIndex();
    index.set(0, [0, 0]);
    expect(similarities(index, [1, 0]).get(0)).toBe(0);
  });

  it('deletes, reuses slots, and round-trips through serialize with renumbered slots', () => {
    const index = new VectorIndex();
    for (let slot = 0; slot < 40; slot++) index.set(slot, [Math.sin(slot), Math.cos(slot), slot % 3]);
    for (let slot = 0; slot < 40; slot += 4) index.delete(slot);
    index.delete(0); // twice: nothing happens
    expect(index.size).toBe(30);
    expect(index.has(4)).toBe(false);
    const slotMap = new Int32Array(40).fill(-1);
    let next = 0;
    for (let slot = 0; slot < 40; slot++) if (slot % 4 !== 0) slotMap[slot] = next++;
    const data = index.serialize(slotMap, next);
    const loaded = new VectorIndex();
    loaded.load(data!, next);
    const query = [0.3, -0.2, 1];
    const before = similarities(index, query);
    const after = similarities(loaded, query);
    for (const [slot, value] of before) expect(after.get(slotMap[slot]!)).toBeCloseTo(value, 6);
    expect(after.size).toBe(30);
  });

  it('serializes nothing when it holds no vector, and refuses damaged data', () => {
    expect(new VectorIndex().serialize(new Int32Array(0), 0)).toBeUndefined();
    const index = new VectorIndex();
    index.set(0, [1, 2]);
    const data = index.serialize(Int32Array.of(0), 1)!;
    expect(() => new VectorIndex().load({ ...data, dimensions: 0 }, 1)).toThrow(RangeError);
    expect(() => new VectorIndex().load({ ...data, vectors: data.vectors.subarray(0, 5) }, 1)).toThrow(
      RangeError,
    );
    expect(() => new VectorIndex().load({ ...data, slots: Uint8Array.of(3) }, 1)).toThrow(RangeError);
    expect(() => new VectorIndex().load({ ...data, dimensions: 1 }, 1)).toThrow(RangeError);
  });
});
