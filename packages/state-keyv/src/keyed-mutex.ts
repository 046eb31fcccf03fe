/** Runs tasks one at a time per key, in call order, within this process. */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<void>>();

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

const SHARED = Symbol.for('sessions.state-keyv.mutex');

/**
 * One mutex for the whole process, shared by every store (and by every copy of this package
 * installed), keyed by the full storage key of what it guards.
 */
export function processMutex(): KeyedMutex {
  const holder = globalThis as { [SHARED]?: KeyedMutex };
  holder[SHARED] ??= new KeyedMutex();
  return holder[SHARED];
}
