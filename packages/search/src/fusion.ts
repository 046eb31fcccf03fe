/** How lexical and vector rankings are combined when a search has both. */
export interface FusionOptions {
  /**
   * `'rrf'` (default): reciprocal rank fusion, `Σ 1 / (k + rank)` over the two rankings, divided by
   * its maximum `2 / (k + 1)` so a document ranked first by both scores 1. Needs no tuning and
   * ignores score scales. `'convex'`: `alpha · lexical + (1 − alpha) · max(0, cosine)` over every
   * document either side found, both scores already in [0, 1]; better when `alpha` is tuned for an
   * embedder (Bruch et al., 2023).
   */
  method?: 'rrf' | 'convex';
  /** RRF rank constant (default 60, as in Cormack et al., 2009). */
  k?: number;
  /** Convex weight of the lexical score (default 0.5). */
  alpha?: number;
  /** How many of each ranking RRF fuses (default 100, at least the search limit). */
  depth?: number;
}

/** One ranked item (a slot) with its normalised score. */
export interface Ranked {
  item: number;
  score: number;
}

/**
 * Reciprocal rank fusion of rankings (each best first): `Σ 1 / (k + rank)`, rank from 1, divided
 * by the maximum `n / (k + 1)` for n rankings. Items come back in first-seen order, unsorted.
 */
export function reciprocalRankFusion(rankings: readonly (readonly Ranked[])[], k = 60): Ranked[] {
  const fused = new Map<number, number>();
  const top = rankings.length / (k + 1);
  for (const ranking of rankings) {
    ranking.forEach(({ item }, rank) => {
      fused.set(item, (fused.get(item) ?? 0) + 1 / (k + rank + 1) / top);
    });
  }
  return Array.from(fused, ([item, score]) => ({ item, score }));
}
