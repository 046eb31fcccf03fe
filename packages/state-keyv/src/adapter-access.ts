import type { Keyv } from 'keyv';
import { KeyvCodec } from './store-driver.js';

/** The Keyv storage adapter interface (`KeyvStoreAdapter`), or a `Map`. */
interface Adapter {
  get(key: string): unknown;
  set(key: string, value: unknown): unknown;
  delete(key: string): unknown;
  getMany?(keys: string[]): Promise<unknown[]>;
  setMany?(entries: Array<{ key: string; value: unknown }>): Promise<unknown>;
  deleteMany?(keys: string[]): Promise<unknown>;
}

const CHUNK = 500;

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/**
 * Reads and writes a Keyv's adapter directly, in Keyv's own format (keys as given: already
 * prefixed; values as `keyv.serializeData` makes them), so adapter errors are thrown, where Keyv
 * would swallow them (`get` resolving `undefined` for a failed read would make an append overwrite
 * the history), and no default `ttl` of the Keyv applies.
 */
export class AdapterAccess {
  readonly #keyv: Keyv;
  readonly #codec: KeyvCodec;

  constructor(keyv: Keyv) {
    this.#keyv = keyv;
    this.#codec = new KeyvCodec(keyv);
  }

  /** Whether the adapter is a plain `Map` in this process's memory. */
  get inMemory(): boolean {
    return this.#store instanceof Map;
  }

  get #store(): Adapter {
    return this.#keyv.store as Adapter;
  }

  async get(key: string): Promise<unknown> {
    return this.#codec.decode(await this.#store.get(key), key);
  }

  /** The values of `keys` in order (`undefined` for absent ones). */
  async getMany(keys: string[]): Promise<unknown[]> {
    const store = this.#store;
    const out: unknown[] = [];
    for (const part of chunks(keys)) {
      const raws = await this.#getRaw(store, part);
      for (const [i, key] of part.entries()) out.push(await this.#codec.decode(raws[i], key));
    }
    return out;
  }

  /**
   * The stored forms of a few `keys` (at most 500), in order, not yet decoded: `decode` each one
   * needed, so a value not needed is not parsed.
   */
  async getManyRaw(keys: string[]): Promise<unknown[]> {
    return this.#getRaw(this.#store, keys);
  }

  /** The value of a stored form `getManyRaw` read at `key` (`undefined` when absent). */
  decode(raw: unknown, key: string): Promise<unknown> {
    return this.#codec.decode(raw, key);
  }

  #getRaw(store: Adapter, keys: string[]): Promise<unknown[]> {
    return typeof store.getMany === 'function' && !(store instanceof Map)
      ? store.getMany(keys)
      : Promise.all(keys.map((key) => store.get(key)));
  }

  async setMany(entries: Array<[key: string, value: unknown]>): Promise<void> {
    const store = this.#store;
    for (const part of chunks(entries)) {
      const encoded = await Promise.all(
        part.map(async ([key, value]) => ({ key, value: await this.#codec.encode(value) })),
      );
      if (typeof store.setMany === 'function' && !(store instanceof Map)) {
        const results = await store.setMany(encoded);
        if (Array.isArray(results) && results.includes(false)) throw writeFailed(part.map(([key]) => key));
      } else {
        const results = await Promise.all(encoded.map(({ key, value }) => store.set(key, value)));
        if (results.includes(false)) throw writeFailed(part.map(([key]) => key));
      }
    }
  }

  async deleteMany(keys: string[]): Promise<void> {
    const store = this.#store;
    for (const part of chunks(keys)) {
      if (typeof store.deleteMany === 'function' && !(store instanceof Map)) await store.deleteMany(part);
      else await Promise.all(part.map((key) => store.delete(key)));
    }
  }
}

function writeFailed(keys: string[]): Error {
  return new Error(`The Keyv adapter failed to write ${keys.length} key(s), starting with "${keys[0]}"`);
}
