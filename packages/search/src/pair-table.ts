/**
 * A hash map from pairs of non-negative 32-bit integers to non-negative integers, open addressing
 * over typed arrays: no object or boxed number per entry, which a `Map` keyed by `a * 2^k + b`
 * would allocate. Entries are never removed.
 */
export class PairTable {
  private firsts: Int32Array;
  private seconds: Int32Array;
  private values: Int32Array;
  private mask: number;
  private count = 0;

  constructor(capacity = 1024) {
    let size = 16;
    while (size < capacity * 2) size *= 2;
    this.firsts = new Int32Array(size).fill(-1);
    this.seconds = new Int32Array(size);
    this.values = new Int32Array(size);
    this.mask = size - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Makes room for `count` entries in all, so that filling them never rehashes. */
  reserve(count: number): void {
    let size = this.firsts.length;
    while (count * 2 > size) size *= 2;
    if (size > this.firsts.length) this.rehash(size);
  }

  /** The value of (first, second), or -1. */
  get(first: number, second: number): number {
    let i = hash(first, second) & this.mask;
    for (;;) {
      const f = this.firsts[i]!;
      if (f === -1) return -1;
      if (f === first && this.seconds[i] === second) return this.values[i]!;
      i = (i + 1) & this.mask;
    }
  }

  /** Sets (first, second) to value; the pair must not be there yet. */
  set(first: number, second: number, value: number): void {
    if ((this.count + 1) * 2 > this.firsts.length) this.rehash(this.firsts.length * 2);
    let i = hash(first, second) & this.mask;
    while (this.firsts[i] !== -1) i = (i + 1) & this.mask;
    this.firsts[i] = first;
    this.seconds[i] = second;
    this.values[i] = value;
    this.count++;
  }

  private rehash(size: number): void {
    const { firsts, seconds, values } = this;
    this.firsts = new Int32Array(size).fill(-1);
    this.seconds = new Int32Array(size);
    this.values = new Int32Array(size);
    this.mask = size - 1;
    this.count = 0;
    for (let i = 0; i < firsts.length; i++) {
      if (firsts[i] !== -1) this.set(firsts[i]!, seconds[i]!, values[i]!);
    }
  }
}

function hash(first: number, second: number): number {
  let h = Math.imul(first, 0x9e3779b1) ^ Math.imul(second + 0x7f4a7c15, 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return (h ^ (h >>> 12)) >>> 0;
}
