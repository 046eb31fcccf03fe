/** Runs tasks one at a time per key, in call order, within this process. */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

  /** Whether a task for `key` is running or waiting. */
  busy(key: string): boolean {
    return this.#tails.has(key);
  }

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key);
    let done!: () => void;
    const current = new Promise<void>((resolve) => {
      done = resolve;
    });
    const tail = previous ? previous.then(() => current) : current;
    this.#tails.set(key, tail);
    try {
      if (previous) await previous;
      return await task();
    } finally {
      done();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}
