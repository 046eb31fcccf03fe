/** Counts work in progress (requests, streamed turns) so a shutdown can wait for it to end. */
export class InflightTracker {
  #count = 0;
  #waiters: Array<() => void> = [];

  /** Marks one piece of work started; call the returned function (once) when it ends. */
  begin(): () => void {
    this.#count += 1;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#count -= 1;
      if (this.#count === 0) {
        const waiters = this.#waiters;
        this.#waiters = [];
        for (const wake of waiters) wake();
      }
    };
  }

  get count(): number {
    return this.#count;
  }

  /** Resolves when nothing is in progress. */
  idle(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
