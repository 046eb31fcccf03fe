/**
 * Keeps the `k` best (highest score) items offered, as a binary min-heap over typed arrays. Equal
 * scores are ordered by `tieBreak(a, b)` (negative: `a` ranks first); by default the item offered
 * first ranks first.
 */
export class TopK {
  private readonly scores: Float64Array;
  private readonly items: Int32Array;
  private readonly order: Float64Array;
  private count = 0;
  private offered = 0;

  constructor(
    readonly k: number,
    private readonly tieBreak?: (a: number, b: number) => number,
  ) {
    this.scores = new Float64Array(k);
    this.items = new Int32Array(k);
    this.order = new Float64Array(k);
  }

  /** The lowest score kept, or -Infinity while fewer than k are kept. */
  get threshold(): number {
    return this.count < this.k ? Number.NEGATIVE_INFINITY : this.scores[0]!;
  }

  offer(item: number, score: number): void {
    const order = this.offered++;
    if (this.k === 0) return;
    if (this.count < this.k) {
      let i = this.count++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!this.below(score, item, order, parent)) break;
        this.move(parent, i);
        i = parent;
      }
      this.put(i, item, score, order);
      return;
    }
    if (!this.above(score, item, order, 0)) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= this.count) break;
      const right = left + 1;
      let child = left;
      if (
        right < this.count &&
        this.below(this.scores[right]!, this.items[right]!, this.order[right]!, left)
      ) {
        child = right;
      }
      if (!this.above(score, item, order, child)) break;
      this.move(child, i);
      i = child;
    }
    this.put(i, item, score, order);
  }

  /** The kept items, best first. */
  sorted(): { item: number; score: number }[] {
    const out: { item: number; score: number; order: number }[] = [];
    for (let i = 0; i < this.count; i++) {
      out.push({ item: this.items[i]!, score: this.scores[i]!, order: this.order[i]! });
    }
    out.sort((a, b) => b.score - a.score || this.compareTies(a.item, a.order, b.item, b.order));
    return out.map(({ item, score }) => ({ item, score }));
  }

  /** Negative when (itemA, orderA) ranks before (itemB, orderB) at equal scores. */
  private compareTies(itemA: number, orderA: number, itemB: number, orderB: number): number {
    return this.tieBreak ? this.tieBreak(itemA, itemB) || orderA - orderB : orderA - orderB;
  }

  /** Whether the candidate ranks below the kept entry at heap position `at`. */
  private below(score: number, item: number, order: number, at: number): boolean {
    const other = this.scores[at]!;
    return (
      score < other ||
      (score === other && this.compareTies(item, order, this.items[at]!, this.order[at]!) > 0)
    );
  }

  /** Whether the candidate ranks above the kept entry at heap position `at`. */
  private above(score: number, item: number, order: number, at: number): boolean {
    const other = this.scores[at]!;
    return (
      score > other ||
      (score === other && this.compareTies(item, order, this.items[at]!, this.order[at]!) < 0)
    );
  }

  private move(from: number, to: number): void {
    this.scores[to] = this.scores[from]!;
    this.items[to] = this.items[from]!;
    this.order[to] = this.order[from]!;
  }

  private put(i: number, item: number, score: number, order: number): void {
    this.scores[i] = score;
    this.items[i] = item;
    this.order[i] = order;
  }
}
