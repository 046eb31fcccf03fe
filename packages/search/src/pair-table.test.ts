import { describe, expect, it } from 'vitest';
import { PairTable } from './pair-table.js';

describe('PairTable', () => {
  it('maps pairs to values through many rehashes, order mattering', () => {
    const table = new PairTable(4);
    for (let a = 0; a < 300; a++) {
      for (let b = 0; b < 30; b++) table.set(a, b, a * 1000 + b);
    }
    expect(table.size).toBe(9000);
    expect(table.get(12, 7)).toBe(12_007);
    expect(table.get(7, 12)).toBe(7012);
    expect(table.get(299, 29)).toBe(299_029);
    expect(table.get(300, 0)).toBe(-1);
    expect(table.get(0, 30)).toBe(-1);
  });

  it('reserve keeps what is stored', () => {
    const table = new PairTable();
    table.set(1, 2, 3);
    table.reserve(100_000);
    expect(table.get(1, 2)).toBe(3);
    expect(table.size).toBe(1);
  });
});
