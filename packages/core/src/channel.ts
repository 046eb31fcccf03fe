/** A one-consumer async queue: a producer pushes values, `end`s or `fail`s; the consumer iterates. */
export class Channel<T> implements AsyncIterable<T> {
  readonly #values: T[] = [];
  #waiting: (() => void) | undefined;
  #done = false;
  #error: { error: unknown } | undefined;

  push(value: T): void {
    if (this.#done) return;
    this.#values.push(value);
    this.#wake();
  }

  end(): void {
    this.#done = true;
    this.#wake();
  }

  fail(error: unknown): void {
    if (this.#done) return;
    this.#error = { error };
    this.#done = true;
    this.#wake();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (true) {
      const value = this.#values.shift();
      if (value !== undefined) {
        yield value;
        continue;
      }
      if (this.#error) throw this.#error.error;
      if (this.#done) return;
      await new Promise<void>((resolve) => {
        this.#waiting = resolve;
      });
    }
  }

  #wake(): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.();
  }
}
