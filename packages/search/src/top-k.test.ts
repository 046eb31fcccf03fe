import { describe, expect, it } from 'vitest';
import { TopK } from './top-k.js';

describe('TopK', () => {
  it('keeps the k best, best first, like sorting everything', () => {
    let seed = 7;
    const random = (): number => {
      seed = (seed * 16_807) % 2_147_483_647;
      return seed / 2_147_483_647;
    };
    const scores = Array.from({ length: 500 }, () => Math.round(random() * 50));
    const top = new TopK(20);
    scores.forEach((score, item) => {
      top.offer(item, score);
    });
    const expected = scores
      .map((score, item) => ({ item, score }))
      .sort((a, b) => b.score - a.score || a.item - b.item)
      .slice(0, 20);
    expect(top.sorted()).toEqual(expected);
  });

  it('breaks ties with tieBreak when given', () => {
    const names = ['c', 'a', 'b'];
    const top = new TopK(2, (x, y) => names[x]!.localeCompare(names[y]!));
    for (let item = 0; item < 3; item++) top.offer(item, 1);
    expect(top.sorted().map((r) => names[r.item])).toEqual(['a', 'b']);
  });

  it('reports its threshold and handles k = 0', () => {
    const top = new TopK(2);
    expect(top.threshold).toBe(Number.NEGATIVE_INFINITY);
    top.offer(0, 5);
    top.offer(1, 3);
    expect(top.threshold).toBe(3);
    top.offer(2, 4);
    expect(top.threshold).toBe(4);
    const none = new TopK(0);
    none.offer(0, 1);
    expect(none.sorted()).toEqual([]);
  });
});
