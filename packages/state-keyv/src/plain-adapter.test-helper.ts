import type KeyvSqlite from '@keyv/sqlite';

/**
 * A Keyv adapter with only the plain operations (get, set, delete, getMany...), over a SQLite
 * adapter: it stands for "any other persistent adapter" (Postgres, MySQL, Mongo...), which the
 * store drives with its generic driver.
 */
export class PlainAdapter {
  namespace?: string | undefined;
  readonly #inner: KeyvSqlite;

  constructor(inner: KeyvSqlite) {
    this.#inner = inner;
  }

  get(key: string): Promise<unknown> {
    return this.#inner.get(key);
  }

  getMany(keys: string[]): Promise<unknown[]> {
    return this.#inner.getMany(keys);
  }

  async set(key: string, value: unknown): Promise<void> {
    await this.#inner.set(key, value);
  }

  delete(key: string): Promise<boolean> {
    return this.#inner.delete(key);
  }

  deleteMany(keys: string[]): Promise<boolean> {
    return this.#inner.deleteMany(keys);
  }

  clear(): Promise<void> {
    return this.#inner.clear();
  }

  disconnect(): Promise<void> {
    return this.#inner.disconnect();
  }

  on(): this {
    return this;
  }
}
