import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import KeyvSqlite from '@keyv/sqlite';
import {
  type Embedder,
  InvalidInputError,
  type MemoryHit,
  type MemoryInput,
  type MemoryRecord,
  type MemorySearchOptions,
  type MemoryStore,
  type Scope,
  SessionCorruptError,
  storeDamage,
} from '@sessions/core';
import {
  type SearchDocument,
  SearchIndex,
  type SearchIndexOptions,
  type SerializedSearchIndex,
} from '@sessions/search';
import Keyv from 'keyv';
import { ScopeIndex } from './scope-index.js';
import { decodeVector, encodeVector } from './vector-codec.js';

export interface MemoryOptions {
  /** Any Keyv instance (SQLite, Redis, Postgres...). Give `keyv` or `path`, not both. */
  keyv?: Keyv;
  /** A folder for a SQLite file (`memory.sqlite`), created when missing. */
  path?: string;
  /** Enables hybrid search: lexical and vector rankings fused. Embeddings are stored, computed once. */
  embedder?: Embedder;
  /** Tuning of the search engine (fields, BM25 parameters, feedback, fusion). */
  search?: SearchIndexOptions;
  /** Milliseconds after a change before the search index snapshot is saved (default 1,000). */
  snapshotDelayMs?: number;
  /** Injectable clock, for tests. */
  now?: () => Date;
}

/** What is stored per memory: the record, its embedding, and the memory added before it in its scope. */
interface StoredMemory extends MemoryRecord {
  v: 1;
  vector?: string;
  context?: string;
}

interface Snapshot {
  v: 1;
  count: number;
  index: SerializedSearchIndex;
}

/**
 * What a memory is searched by: its text; the speaker (`metadata.speaker`), which names who said
 * it; its date in words ("8 May 2023"), for questions about when; and, faintly, the memory added
 * just before it in the same scope, which is often what the text refers to.
 */
const FIELDS = { text: 1, speaker: 2, date: 1, context: 0.2 } as const;
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
/** Query expansion without the common words of conversation: as good and twice as fast on LoCoMo. */
const FEEDBACK = { minIdf: 2 } as const;
const NAMESPACE = 'memory';
const RECORD = 'm:';
const SNAPSHOT = 'index';
const SCOPE_KEYS = ['userId', 'sessionId', 'agentName'] as const;

/**
 * A `MemoryStore` searched by relevance (BM25F over the text, fused with vectors when an
 * `embedder` is given), persisted through Keyv: in memory by default, SQLite with `path`.
 */
export class Memory implements MemoryStore {
  readonly keyv: Keyv;
  readonly embedder: Embedder | undefined;
  readonly #options: MemoryOptions;
  readonly #now: () => Date;
  #records = new Map<string, MemoryRecord>();
  /** The ids of `#records` by scope, for `list()` from a session. */
  #scopes = new ScopeIndex();
  /** The text of the memory added last in each scope. */
  readonly #lastInScope = new Map<string, string>();
  #index: SearchIndex;
  #ready: Promise<void> | undefined;
  #snapshotTimer: ReturnType<typeof setTimeout> | undefined;
  #dirty = false;
  #writes: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | undefined;
  readonly #sqlite: KeyvSqlite | undefined;
  /** What errors name as damaged: the SQLite file, or the given Keyv store. */
  readonly #file: string;

  constructor(options: MemoryOptions = {}) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
    this.embedder = options.embedder;
    if (options.keyv && options.path !== undefined) {
      throw new InvalidInputError('Memory takes `keyv` or `path`, not both');
    }
    const opened = options.keyv ? { keyv: options.keyv } : openKeyv(options.path);
    this.keyv = opened.keyv;
    this.#sqlite = opened.sqlite;
    this.#file = opened.file ?? 'the given Keyv store';
    this.#index = this.#newIndex();
  }

  /** Adds a memory. An exact duplicate (same text in the same scope) is returned, not stored again. */
  async add(input: string | MemoryInput, scope: Scope = {}): Promise<MemoryRecord> {
    const [record] = await this.addMany([input], scope);
    return record!;
  }

  /** Adds several memories in one go (one embedding call); duplicates are returned as they are. */
  async addMany(inputs: readonly (string | MemoryInput)[], scope: Scope = {}): Promise<MemoryRecord[]> {
    await this.#ensureReady();
    const cleanScope = checkScope(scope);
    const records = inputs.map((input) => this.#toRecord(input, cleanScope));
    const fresh = dedupe(records.filter((record) => !this.#records.has(record.id)));
    const vectors =
      fresh.length > 0 && this.embedder ? await this.embedder.embed(fresh.map((r) => r.text)) : [];
    const contexts = fresh.map((record) => {
      const key = scopeKey(record.scope);
      const context = this.#lastInScope.get(key);
      this.#lastInScope.set(key, record.text);
      return context;
    });
    const stored = fresh.map((record, i) => toStored(record, vectors[i], contexts[i]));
    await this.#write(() => this.keyv.setMany(stored.map((value) => ({ key: RECORD + value.id, value }))));
    for (const [i, record] of fresh.entries()) {
      this.#records.set(record.id, record);
      this.#scopes.add(record.id, record.scope);
      this.#index.add(searchDocument(record, vectors[i], contexts[i]));
    }
    if (fresh.length > 0) this.#changed();
    return records.map((record) => copy(this.#records.get(record.id)!));
  }

  /** Memories relevant to `query`, best first, scores in [0, 1], visible from `scope`. */
  async search(query: string, options: MemorySearchOptions = {}): Promise<MemoryHit[]> {
    if (typeof query !== 'string') throw new InvalidInputError('search(query) takes a string');
    const { limit = 5, minScore = 0, filter } = options;
    if (!Number.isInteger(limit) || limit < 1)
      throw new InvalidInputError(`Invalid limit ${limit}: use a positive integer`);
    await this.#ensureReady();
    const scope = checkScope(options.scope ?? {});
    const vector = this.embedder && query.trim() ? (await this.embedder.embed([query]))[0] : undefined;
    const hits = this.#index.search(query, {
      limit,
      minScore,
      filter: (id) => {
        const record = this.#records.get(id);
        return record !== undefined && visible(record.scope, scope) && matches(record.metadata, filter);
      },
      ...(vector && { vector }),
    });
    return hits.map(({ id, score }) => ({ ...copy(this.#records.get(id)!), score }));
  }

  /** Memories visible from `scope` (all of them when absent), oldest first. */
  async list(scope: Scope = {}): Promise<MemoryRecord[]> {
    await this.#ensureReady();
    const query = checkScope(scope);
    const ids = this.#scopes.candidates(query);
    const records = ids === undefined ? [...this.#records.values()] : ids.map((id) => this.#records.get(id)!);
    return records
      .filter((record) => visible(record.scope, query))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
      .map(copy);
  }

  async get(id: string): Promise<MemoryRecord | undefined> {
    await this.#ensureReady();
    const record = this.#records.get(id);
    return record && copy(record);
  }

  async delete(id: string): Promise<boolean> {
    await this.#ensureReady();
    const record = this.#records.get(id);
    if (record === undefined) return false;
    await this.#write(() => this.keyv.delete(RECORD + id));
    this.#records.delete(id);
    this.#scopes.remove(id, record.scope);
    this.#index.remove(id);
    this.#changed();
    return true;
  }

  /** Removes the memories inside `scope` (every memory when absent); returns how many. */
  async clear(scope: Scope = {}): Promise<number> {
    await this.#ensureReady();
    const query = checkScope(scope);
    const gone = [...this.#records.values()].filter((record) => within(record.scope, query));
    if (gone.length === 0) return 0;
    await this.#write(() => this.keyv.deleteMany(gone.map((record) => RECORD + record.id)));
    for (const record of gone) {
      this.#records.delete(record.id);
      this.#scopes.remove(record.id, record.scope);
      this.#index.remove(record.id);
    }
    this.#changed();
    return gone.length;
  }

  /** Saves the search index snapshot now (it is otherwise saved shortly after changes). */
  async flush(): Promise<void> {
    await this.#ensureReady();
    clearTimeout(this.#snapshotTimer);
    this.#snapshotTimer = undefined;
    if (!this.#dirty) return this.#writes.then(() => undefined);
    this.#dirty = false;
    const snapshot: Snapshot = { v: 1, count: this.#records.size, index: this.#index.toJSON() };
    await this.#write(() => this.keyv.set(SNAPSHOT, snapshot));
  }

  /** Flushes and closes the underlying store. Closing twice is fine. */
  async close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.flush();
      await this.keyv.disconnect();
    })();
    return this.#closing;
  }

  /** Number of memories stored. */
  async size(): Promise<number> {
    await this.#ensureReady();
    return this.#records.size;
  }

  #toRecord(input: string | MemoryInput, scope: Scope): MemoryRecord {
    const { text, metadata = {}, createdAt } = typeof input === 'string' ? { text: input } : (input ?? {});
    if (typeof text !== 'string' || text.trim() === '') {
      throw new InvalidInputError('A memory needs non-empty text');
    }
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      throw new InvalidInputError('Memory metadata must be a plain object');
    }
    const at = createdAt === undefined ? this.#now() : new Date(createdAt);
    if (Number.isNaN(at.getTime()))
      throw new InvalidInputError(`Invalid memory createdAt ${String(createdAt)}`);
    return {
      id: memoryId(text, scope),
      text,
      metadata: structuredClone(metadata),
      scope,
      createdAt: at.toISOString(),
    };
  }

  #newIndex(): SearchIndex {
    return new SearchIndex({ fields: FIELDS, feedback: FEEDBACK, ...this.#options.search });
  }

  #ensureReady(): Promise<void> {
    this.#ready ??= this.#load().catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  async #load(): Promise<void> {
    try {
      await this.#read();
    } catch (error) {
      throw this.#damaged(error);
    }
  }

  /** `error` as a `SessionCorruptError` naming the store when it says the store is damaged; else as it is. */
  #damaged(error: unknown): unknown {
    return storeDamage(error, { store: 'Memory store', file: this.#file });
  }

  async #read(): Promise<void> {
    if (this.#sqlite) {
      // Write-ahead logging: a commit is one append and readers never see half a write.
      await this.#sqlite.query('PRAGMA journal_mode = WAL');
      await this.#sqlite.query('PRAGMA synchronous = NORMAL');
    }
    const records = new Map<string, MemoryRecord>();
    const vectors = new Map<string, Float32Array>();
    const contexts = new Map<string, string>();
    let snapshot: Snapshot | undefined;
    if (typeof this.keyv.iterator !== 'function') {
      throw new InvalidInputError(
        'Memory needs a Keyv adapter that can iterate its keys (SQLite, Redis, Postgres, Map)',
      );
    }
    for await (const [key, value] of this.#entries()) {
      if (key === SNAPSHOT) {
        if (!(value instanceof Unreadable)) snapshot = value as Snapshot; // else rebuilt from the records
        continue;
      }
      if (typeof key !== 'string' || !key.startsWith(RECORD)) continue;
      if (value instanceof Unreadable) {
        throw new SessionCorruptError(
          `Memory record "${key}" in ${this.#file} is not valid JSON: Keyv cannot deserialize it`,
          { file: this.#file, cause: value.cause },
        );
      }
      const stored = value as StoredMemory;
      if (stored?.v !== 1 || typeof stored.text !== 'string') {
        throw new SessionCorruptError(
          `Memory record "${key}" in ${this.#file} is not readable (format ${String(stored?.v)})`,
          { file: this.#file },
        );
      }
      const { v: _v, vector, context, ...record } = stored;
      records.set(record.id, record);
      if (vector) vectors.set(record.id, decodeVector(vector));
      if (context !== undefined) contexts.set(record.id, context);
    }
    this.#records = records;
    this.#scopes = new ScopeIndex();
    for (const record of records.values()) this.#scopes.add(record.id, record.scope);
    this.#index = this.#restoreIndex(snapshot, records) ?? this.#newIndex();
    let patched = false;
    for (const id of this.#index.ids()) {
      if (!records.has(id)) {
        this.#index.remove(id);
        patched = true;
      }
    }
    for (const record of records.values()) {
      if (this.#index.has(record.id)) continue;
      this.#index.add(searchDocument(record, vectors.get(record.id), contexts.get(record.id)));
      patched = true;
    }
    for (const record of [...records.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt))) {
      this.#lastInScope.set(scopeKey(record.scope), record.text);
    }
    if (patched) this.#changed();
  }

  /**
   * Every stored entry, keys without the namespace. From this store's own SQLite file, rows are
   * read as they are and deserialized one by one, so a value that cannot be is named by its key
   * (`Unreadable`); a given Keyv is read through its iterator, which throws on such a value.
   */
  async *#entries(): AsyncGenerator<[key: unknown, value: unknown]> {
    if (this.#sqlite) {
      const prefix = `${NAMESPACE}:`;
      for await (const [key, raw] of this.#sqlite.iterator(NAMESPACE) as AsyncGenerator<[string, string]>) {
        let data: { value?: unknown } | undefined;
        try {
          data = await this.keyv.deserializeData<unknown>(raw);
        } catch (cause) {
          yield [key.slice(prefix.length), new Unreadable(cause)];
          continue;
        }
        yield [key.slice(prefix.length), data?.value];
      }
      return;
    }
    yield* this.keyv.iterator!(undefined);
  }

  #restoreIndex(snapshot: Snapshot | undefined, records: Map<string, MemoryRecord>): SearchIndex | undefined {
    if (snapshot?.v !== 1 || records.size === 0) return undefined;
    try {
      return SearchIndex.fromJSON(snapshot.index, this.#options.search);
    } catch {
      return undefined; // a snapshot that cannot be read is rebuilt from the records
    }
  }

  #changed(): void {
    this.#dirty = true;
    if (this.#snapshotTimer) return;
    this.#snapshotTimer = setTimeout(() => {
      this.#snapshotTimer = undefined;
      this.flush().catch(() => {
        this.#dirty = true; // retried on the next change or flush
      });
    }, this.#options.snapshotDelayMs ?? 1_000);
    this.#snapshotTimer.unref?.();
  }

  /** Runs store writes one after another, so a snapshot never lands before the records it covers. */
  #write<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#writes.then(operation);
    this.#writes = result.catch(() => undefined);
    return result;
  }
}

/** A stored value that cannot be deserialized, with why. */
class Unreadable {
  constructor(readonly cause: unknown) {}
}

function openKeyv(path: string | undefined): { keyv: Keyv; sqlite?: KeyvSqlite; file?: string } {
  if (path === undefined) return { keyv: new Keyv({ namespace: NAMESPACE }) };
  const folder = resolve(path);
  mkdirSync(folder, { recursive: true });
  const file = join(folder, 'memory.sqlite');
  // iterationLimit: the adapter pages its iterator with LIMIT/OFFSET (10 rows by default, which
  // makes a full scan quadratic); loading reads every record, so it reads them in large pages.
  const sqlite = new KeyvSqlite({
    uri: `sqlite://${file}`,
    busyTimeout: 10_000,
    iterationLimit: 10_000,
  });
  return { keyv: new Keyv({ store: sqlite, namespace: NAMESPACE, throwOnErrors: true }), sqlite, file };
}

/** A copy the caller may change freely (metadata values are JSON, copied one level deep). */
function copy(record: MemoryRecord): MemoryRecord {
  return { ...record, metadata: { ...record.metadata }, scope: { ...record.scope } };
}

function checkScope(scope: Scope): Scope {
  if (typeof scope !== 'object' || scope === null) throw new InvalidInputError('A scope must be an object');
  const clean: Scope = {};
  for (const key of SCOPE_KEYS) {
    const value = scope[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value === '') {
      throw new InvalidInputError(`Invalid scope ${key}: use a non-empty string`);
    }
    clean[key] = value;
  }
  return clean;
}

/** A memory is visible from a query scope when they agree on every key both set. */
function visible(record: Scope, query: Scope): boolean {
  return SCOPE_KEYS.every(
    (key) => record[key] === undefined || query[key] === undefined || record[key] === query[key],
  );
}

/** A memory is inside a scope when it has every key the scope sets, with the same value. */
function within(record: Scope, scope: Scope): boolean {
  return SCOPE_KEYS.every((key) => scope[key] === undefined || record[key] === scope[key]);
}

function matches(metadata: Record<string, unknown>, filter: Record<string, unknown> | undefined): boolean {
  if (!filter) return true;
  return Object.entries(filter).every(([key, value]) => metadata[key] === value);
}

function memoryId(text: string, scope: Scope): string {
  const key = JSON.stringify([scope.userId ?? null, scope.sessionId ?? null, scope.agentName ?? null, text]);
  return `mem_${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;
}

function dedupe(records: MemoryRecord[]): MemoryRecord[] {
  const seen = new Set<string>();
  return records.filter((record) => !seen.has(record.id) && seen.add(record.id));
}

function toStored(
  record: MemoryRecord,
  vector: Float32Array | undefined,
  context: string | undefined,
): StoredMemory {
  return {
    v: 1,
    ...record,
    ...(vector && { vector: encodeVector(vector) }),
    ...(context !== undefined && { context }),
  };
}

function searchDocument(
  record: MemoryRecord,
  vector: Float32Array | undefined,
  context: string | undefined,
): SearchDocument {
  const speaker = record.metadata.speaker;
  const at = new Date(record.createdAt);
  return {
    id: record.id,
    text: record.text,
    speaker: typeof speaker === 'string' ? speaker : '',
    date: `${at.getUTCDate()} ${MONTHS[at.getUTCMonth()]} ${at.getUTCFullYear()}`,
    context: context ?? '',
    ...(vector && { vector }),
  };
}

function scopeKey(scope: Scope): string {
  return JSON.stringify([scope.userId ?? null, scope.sessionId ?? null, scope.agentName ?? null]);
}
