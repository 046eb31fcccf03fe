import { describe, expect, it } from 'vitest';
import { reciprocalRankFusion } from './fusion.js';

describe('reciprocalRankFusion', () => {
  it('sums 1 / (k + rank) and divides by the best possible sum', () => {
    const fused = reciprocalRankFusion(
      [
        [
          { item: 1, score: 0.9 },
          { item: 2, score: 0.5 },
        ],
        [
          { item: 1, score: 0.8 },
          { item: 3, score: 0.7 },
        ],
      ],
      60,
    );
    const byItem = new Map(fused.map((r) => [r.item, r.score]));
    expect(byItem.get(1)).toBeCloseTo(1, 12);
    expect(byItem.get(2)).toBeCloseTo(1 / 62 / (2 / 61), 12);
    expect(byItem.get(3)).toBeCloseTo(1 / 62 / (2 / 61), 12);
  });

  it('returns nothing for no rankings', () => {
    expect(reciprocalRankFusion([[], []])).toEqual([]);
  });
});
