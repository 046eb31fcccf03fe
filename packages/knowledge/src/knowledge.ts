import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KeyvSqlite } from '@keyv/sqlite';
import {
  assertSessionId,
  type Embedder,
  InvalidInputError,
  type KnowledgeAddOptions,
  type KnowledgeBase,
  type KnowledgeDocument,
  type KnowledgeHit,
  type KnowledgeSearchOptions,
  type KnowledgeSource,
  ModelError,
} from '@sessions/core';
import { Keyv } from 'keyv';
import { type Chunk, chunkDocument } from './chunker.js';
import { contentHash, documentId } from './document-id.js';
import {
  type DocumentRecord,
  type EmbeddingSpace,
  KnowledgeStore,
  RECORD_SCHEMA,
  type StoredChunk,
} from './knowledge-store.js';
import { loadSource } from './load-source.js';
import { type PassageIndex, parsePassageId, passageId } from './passage-index.js';
import { defaultLookup, type HostLookup } from './private-address.js';
import type { IngestPhase, ProgressListener } from './progress.js';
import { createPassageIndex, loadPassageIndex } from './search-passage-index.js';

export interface KnowledgeOptions {
  /** Where documents, chunks, embeddings and the index live: any Keyv instance. */
  keyv?: Keyv;
  /** A folder for a SQLite file (`knowledge.sqlite`), created if needed. Not with `keyv`. Default: in memory. */
  path?: string;
  /** Embeds chunks and queries for hybrid (lexical + vector) search. Default: lexical only. */
  embedder?: Embedder;
  /** Longest chunk in characters (default 1000). */
  chunkSize?: number;
  /** Characters repeated between consecutive chunks of a section (default 150). */
  chunkOverlap?: number;
  /** Allow URLs whose host is loopback, private or link-local (default false). */
  allowPrivateNetwork?: boolean;
  /** The `fetch` used for URLs (default `globalThis.fetch`). */
  fetch?: typeof globalThis.fetch;
  /** Resolves a host name to its addresses before a URL is fetched (default `dns.lookup`, all addresses). */
  lookup?: HostLookup;
  /** Largest URL body or file in bytes (default 20 MB). */
  maxBytes?: number;
  /** Time limit of fetching one URL, redirects and body included (default 30 s). */
  timeoutMs?: number;
  /** Called as every `add` progresses. */
  onProgress?: ProgressListener;
  /** Texts per `embedder.embed` call (default 64). */
  embedBatchSize?: number;
  /** Delay before the search index snapshot is written after a change (default 1000 ms); `flush()` writes it now. */
  snapshotDelayMs?: number;
  /** Injectable clock for `addedAt`. */
  now?: () => Date;
}

/** `KnowledgeBase.add` options, plus a progress callback for this one add. */
export interface KnowledgeAddOptionsWithProgress extends KnowledgeAddOptions {
  onProgress?: ProgressListener;
}

interface Settings {
  chunkSize: number;
  chunkOverlap: number;
  maxBytes: number;
  timeoutMs: number;
  embedBatchSize: number;
  snapshotDelayMs: number;
}

const DEFAULT_LIMIT = 5;
const MAX_LIMIT = 1000;

/**
 * A knowledge base: `add` loads a file, URL, bytes or text, splits it into chunks that respect its
 * structure and indexes them; `search` returns the best passages with what is needed to cite them.
 * Everything is kept in a Keyv store (in memory by default, a SQLite file with `path`), so a new
 * `Knowledge` on the same store finds every document without ingesting it again.
 */
export class Knowledge implements KnowledgeBase {
  readonly #store: KnowledgeStore;
  readonly #keyv: Keyv;
  readonly #ownsKeyv: boolean;
  /** The SQLite store this instance opened (`path`), tuned on first use. */
  readonly #sqlite: KeyvSqlite | undefined;
  /** Whether the index snapshot is worth writing (not for the private in-memory store). */
  readonly #snapshots: boolean;
  readonly #embedder: Embedder | undefined;
  /** The embedder's model name, when it exposes one: stored embeddings of another model are not reused. */
  readonly #model: string | null;
  /** Length of this embedder's vectors, once known (some embedders learn it from their first answer). */
  #dimensions: number | undefined;
  readonly #settings: Settings;
  readonly #options: KnowledgeOptions;
  readonly #documents = new Map<string, DocumentRecord>();
  readonly #chunks = new Map<string, Promise<StoredChunk[]>>();
  #index: PassageIndex;
  #ready: Promise<void> | undefined;
  #lock: Promise<unknown> = Promise.resolve();
  #dirty = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(options: KnowledgeOptions = {}) {
    this.#options = options;
    this.#settings = settingsOf(options);
    this.#embedder = options.embedder;
    const model = (options.embedder as { model?: unknown } | undefined)?.model;
    this.#model = typeof model === 'string' ? model : null;
    const dimensions = options.embedder?.dimensions;
    this.#dimensions = typeof dimensions === 'number' && dimensions > 0 ? dimensions : undefined;
    if (options.keyv && options.path !== undefined) {
      throw new InvalidInputError('Knowledge takes `keyv` or `path`, not both');
    }
    if (options.keyv) {
      this.#keyv = options.keyv;
      this.#ownsKeyv = false;
      this.#snapshots = true;
      this.#store = new KnowledgeStore(this.#keyv, 'the given Keyv store');
    } else if (options.path !== undefined) {
      const folder = resolve(options.path);
      mkdirSync(folder, { recursive: true });
      const file = join(folder, 'knowledge.sqlite');
      this.#sqlite = new KeyvSqlite({ uri: `sqlite://${file}`, busyTimeout: 10_000 });
      this.#keyv = new Keyv({
        store: this.#sqlite,
        namespace: 'knowledge',
        throwOnErrors: true,
      });
      this.#ownsKeyv = true;
      this.#snapshots = true;
      this.#store = new KnowledgeStore(this.#keyv, file);
    } else {
      // In memory: values are kept as they are, not serialized.
      this.#keyv = new Keyv({ namespace: 'knowledge', serialize: undefined, deserialize: undefined });
      this.#ownsKeyv = true;
      this.#snapshots = false;
      this.#store = new KnowledgeStore(this.#keyv, 'memory');
    }
    this.#index = createPassageIndex();
  }

  async add(
    source: KnowledgeSource,
    options: KnowledgeAddOptionsWithProgress = {},
  ): Promise<KnowledgeDocument> {
    this.#assertOpen();
    if (options.id !== undefined) assertSessionId(options.id, 'document id');
    const metadata = checkMetadata(options.metadata);
    const signal = options.signal;
    signal?.throwIfAborted();
    let label = 'source';
    const report = (phase: IngestPhase, done: number, total: number): void => {
      const event = { phase, done, total, source: label };
      this.#options.onProgress?.(event);
      options.onProgress?.(event);
    };

    const loaded = await loadSource(source, {
      filename: options.filename,
      signal,
      fetch: this.#options.fetch ?? globalThis.fetch,
      lookup: this.#options.lookup ?? defaultLookup,
      allowPrivateNetwork: this.#options.allowPrivateNetwork ?? false,
      maxBytes: this.#settings.maxBytes,
      timeoutMs: this.#settings.timeoutMs,
      onLoad: (done, total, cited) => {
        label = cited;
        report('load', done, total);
      },
    });
    label = loaded.source;
    const title = chosenTitle(options.title) ?? loaded.title;
    signal?.throwIfAborted();

    const chunks = chunkDocument(loaded.document, this.#settings);
    report('chunk', chunks.length, chunks.length);
    const hash = contentHash(loaded.document.text);
    const id = documentId(hash, options.id);

    await this.#load();
    const existing = this.#documents.get(id);
    if (existing?.hash === hash) {
      report('index', existing.chunkCount, existing.chunkCount);
      return publicDocument(existing);
    }

    const vectors = this.#embedder
      ? await this.#embed(
          chunks.map((chunk) => embeddingText(title, chunk)),
          (done, total) => report('embed', done, total),
          signal,
        )
      : undefined;
    signal?.throwIfAborted();

    return this.#exclusive(async () => {
      const previous = this.#documents.get(id);
      if (previous?.hash === hash) return publicDocument(previous);
      const record: DocumentRecord = {
        schema: RECORD_SCHEMA,
        id,
        source: loaded.source,
        chunkCount: chunks.length,
        addedAt: (this.#options.now?.() ?? new Date()).toISOString(),
        hash,
        length: loaded.document.text.length,
      };
      if (title !== undefined) record.title = title;
      if (metadata !== undefined) record.metadata = metadata;

      const stored: StoredChunk[] = chunks.map(({ index: _index, ...chunk }) => chunk);
      await this.#store.putChunks(id, hash, stored);
      if (vectors) await this.#store.putEmbeddings(id, hash, this.#model, vectors);
      await this.#store.putRecord(record);
      if (!previous) await this.#store.putCatalog([...this.#documents.keys(), id]);

      // Committed: now the in-memory view.
      if (previous) this.#unindex(previous);
      if (previous) this.#documents.delete(id);
      this.#documents.set(id, record);
      this.#chunks.set(id, Promise.resolve(stored));
      this.#indexDocument(record, stored, vectors, (done, total) => report('index', done, total));
      if (previous) await this.#store.deleteVersion(id, previous.hash);
      this.#changed();
      return publicDocument(record);
    });
  }

  async search(query: string, options: KnowledgeSearchOptions = {}): Promise<KnowledgeHit[]> {
    this.#assertOpen();
    if (typeof query !== 'string') throw new InvalidInputError('Knowledge search query must be a string');
    const limit = options.limit ?? DEFAULT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
      throw new InvalidInputError(
        `Knowledge search limit must be an integer from 1 to ${MAX_LIMIT} (got ${limit})`,
      );
    }
    if (query.trim() === '') return [];
    await this.#load();
    if (this.#index.size === 0) return [];
    const vector = this.#embedder ? (await this.#embed([query]))[0] : undefined;
    const results = this.#index.search(query, vector ? { limit, vector } : { limit });
    const hits: KnowledgeHit[] = [];
    for (const { id, score } of results) {
      const { documentId: docId, chunkIndex } = parsePassageId(id);
      const record = this.#documents.get(docId);
      if (!record) continue;
      const chunk = (await this.#chunksOf(record))[chunkIndex];
      if (!chunk) continue;
      const hit: KnowledgeHit = {
        documentId: docId,
        source: record.source,
        chunkIndex,
        text: chunk.text,
        score: Math.min(1, Math.max(0, score)),
        start: chunk.start,
        end: chunk.end,
      };
      if (record.title !== undefined) hit.title = record.title;
      if (chunk.page !== undefined) hit.page = chunk.page;
      hits.push(hit);
    }
    return hits;
  }

  async list(): Promise<KnowledgeDocument[]> {
    this.#assertOpen();
    await this.#load();
    return [...this.#documents.values()].map(publicDocument);
  }

  /** The document with this id, or `undefined`. */
  async get(id: string): Promise<KnowledgeDocument | undefined> {
    this.#assertOpen();
    await this.#load();
    const record = this.#documents.get(id);
    return record ? publicDocument(record) : undefined;
  }

  async remove(id: string): Promise<boolean> {
    this.#assertOpen();
    if (typeof id !== 'string') throw new InvalidInputError('Knowledge document id must be a string');
    await this.#load();
    return this.#exclusive(async () => {
      const record = this.#documents.get(id);
      if (!record) return false;
      await this.#store.putCatalog([...this.#documents.keys()].filter((other) => other !== id));
      this.#unindex(record);
      this.#documents.delete(id);
      this.#chunks.delete(id);
      await this.#store.deleteDocument(id, record.hash);
      this.#changed();
      return true;
    });
  }

  /** Writes the search index snapshot now if it changed (it is otherwise written shortly after a change). */
  async flush(): Promise<void> {
    if (!this.#ready) return;
    await this.#load();
    await this.#exclusive(() => this.#saveSnapshot());
  }

  /** Flushes, then closes the store if this instance opened it (`path` or the default). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#ownsKeyv) await this.#keyv.disconnect();
  }

  // ---- loading -----------------------------------------------------------------------------

  #load(): Promise<void> {
    if (!this.#ready) {
      const ready = this.#exclusive(() => this.#open());
      this.#ready = ready;
      // A failed open (the store unreachable) is tried again by the next call.
      ready.catch(() => {
        if (this.#ready === ready) this.#ready = undefined;
      });
    }
    return this.#ready;
  }

  async #open(): Promise<void> {
    try {
      await this.#restore();
    } catch (error) {
      this.#documents.clear();
      this.#chunks.clear();
      this.#index = createPassageIndex();
      throw this.#store.damaged(error);
    }
  }

  /** Reads the catalog and records, and restores the index from its snapshot or the stored chunks. */
  async #restore(): Promise<void> {
    if (this.#sqlite) {
      // Write-ahead logging: a commit is one append, and readers never see half a write; a crash
      // of the process loses nothing committed, a power cut at most the last commits.
      await this.#sqlite.query('PRAGMA journal_mode = WAL');
      await this.#sqlite.query('PRAGMA synchronous = NORMAL');
    }
    const ids = await this.#store.catalog();
    for (const record of await this.#store.records(ids)) this.#documents.set(record.id, record);
    const snapshot = await this.#store.snapshot();
    let restored: PassageIndex | undefined;
    if (snapshot && this.#fits(snapshot.embedding)) {
      try {
        restored = loadPassageIndex(snapshot.index);
        if (snapshot.embedding) this.#dimensions ??= snapshot.embedding.dimensions;
      } catch {
        restored = undefined; // a snapshot is a cache: rebuild from the chunks
      }
    }
    const indexed = new Map<string, [string, number]>();
    if (restored && snapshot) {
      this.#index = restored;
      for (const [id, [hash, count]] of Object.entries(snapshot.documents)) {
        const record = this.#documents.get(id);
        if (record?.hash === hash && record.chunkCount === count) {
          indexed.set(id, [hash, count]);
          continue;
        }
        for (let index = 0; index < count; index++) this.#index.remove(passageId(id, index));
      }
    }
    let stale = false;
    for (const record of this.#documents.values()) {
      if (indexed.has(record.id)) continue;
      stale = true;
      const chunks = await this.#chunksOf(record);
      let vectors: Float32Array[] | undefined;
      if (this.#embedder) {
        vectors = await this.#store.embeddings(record, this.#model, this.#dimensions);
        if (vectors) {
          this.#dimensions ??= vectors[0]?.length;
        } else {
          vectors = await this.#embed(chunks.map((chunk) => embeddingText(record.title, chunk)));
          await this.#store.putEmbeddings(record.id, record.hash, this.#model, vectors);
        }
      }
      this.#indexDocument(record, chunks, vectors);
    }
    if (stale || (snapshot && Object.keys(snapshot.documents).length !== indexed.size)) this.#changed();
  }

  #chunksOf(record: DocumentRecord): Promise<StoredChunk[]> {
    let chunks = this.#chunks.get(record.id);
    if (!chunks) {
      chunks = this.#store.chunks(record);
      this.#chunks.set(record.id, chunks);
      chunks.catch(() => this.#chunks.delete(record.id));
    }
    return chunks;
  }

  // ---- indexing ----------------------------------------------------------------------------

  #indexDocument(
    record: DocumentRecord,
    chunks: StoredChunk[],
    vectors: Float32Array[] | undefined,
    progress?: (done: number, total: number) => void,
  ): void {
    const title = record.title ?? '';
    chunks.forEach((chunk, index) => {
      const vector = vectors?.[index];
      this.#index.add({
        id: passageId(record.id, index),
        title,
        headings: chunk.headings.join('\n'),
        text: chunk.text,
        ...(vector ? { vector } : {}),
      });
    });
    progress?.(chunks.length, chunks.length);
  }

  #unindex(record: DocumentRecord): void {
    for (let index = 0; index < record.chunkCount; index++) this.#index.remove(passageId(record.id, index));
  }

  async #embed(
    texts: string[],
    progress?: (done: number, total: number) => void,
    signal?: AbortSignal,
  ): Promise<Float32Array[]> {
    const embedder = this.#embedder!;
    const vectors: Float32Array[] = [];
    progress?.(0, texts.length);
    for (let from = 0; from < texts.length; from += this.#settings.embedBatchSize) {
      signal?.throwIfAborted();
      const batch = texts.slice(from, from + this.#settings.embedBatchSize);
      const result = await embedder.embed(batch);
      if (result.length !== batch.length) {
        throw new ModelError(`The embedder returned ${result.length} vectors for ${batch.length} texts`);
      }
      for (const vector of result) {
        this.#dimensions ??= vector.length;
        if (!(vector instanceof Float32Array) || vector.length !== this.#dimensions || vector.length === 0) {
          throw new ModelError(
            `The embedder returned a vector of length ${vector.length}; this knowledge base holds vectors of length ${this.#dimensions}`,
          );
        }
      }
      vectors.push(...result);
      progress?.(vectors.length, texts.length);
    }
    return vectors;
  }

  // ---- snapshot ----------------------------------------------------------------------------

  #changed(): void {
    if (!this.#snapshots) return;
    this.#dirty = true;
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#exclusive(() => this.#saveSnapshot()).catch(() => {
        // A failed snapshot costs only a rebuild on the next start; the next change retries.
      });
    }, this.#settings.snapshotDelayMs);
    this.#timer.unref?.();
  }

  async #saveSnapshot(): Promise<void> {
    if (!this.#dirty) return;
    this.#dirty = false;
    const documents: Record<string, [string, number]> = {};
    for (const record of this.#documents.values()) documents[record.id] = [record.hash, record.chunkCount];
    try {
      await this.#store.putSnapshot({
        embedding:
          this.#embedder && this.#dimensions !== undefined
            ? { model: this.#model, dimensions: this.#dimensions }
            : null,
        documents,
        index: this.#index.toJSON(),
      });
    } catch (error) {
      this.#dirty = true;
      throw error;
    }
  }

  // ---- helpers -----------------------------------------------------------------------------

  /** Runs `task` after every earlier exclusive task: writes never interleave. */
  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(task, task);
    this.#lock = run.catch(() => undefined);
    return run;
  }

  /** Whether a snapshot's embedding space is this instance's: none for none, same model and length. */
  #fits(space: EmbeddingSpace | null): boolean {
    if (!this.#embedder) return space === null;
    if (space === null) return this.#documents.size === 0;
    return (
      space.model === this.#model && (this.#dimensions === undefined || space.dimensions === this.#dimensions)
    );
  }

  #assertOpen(): void {
    if (this.#closed) throw new InvalidInputError('This Knowledge is closed: create a new one');
  }
}

function settingsOf(options: KnowledgeOptions): Settings {
  const chunkSize = options.chunkSize ?? 1000;
  const chunkOverlap = options.chunkOverlap ?? Math.min(150, Math.floor(chunkSize / 4));
  if (!Number.isInteger(chunkSize) || chunkSize < 50) {
    throw new InvalidInputError(`chunkSize must be an integer of at least 50 characters (got ${chunkSize})`);
  }
  if (!Number.isInteger(chunkOverlap) || chunkOverlap < 0 || chunkOverlap >= chunkSize / 2) {
    throw new InvalidInputError(
      `chunkOverlap must be an integer from 0 to less than half of chunkSize (got ${chunkOverlap})`,
    );
  }
  const positive = (name: string, value: number): number => {
    if (!Number.isFinite(value) || value <= 0)
      throw new InvalidInputError(`${name} must be a positive number`);
    return value;
  };
  const embedBatchSize = options.embedBatchSize ?? 64;
  if (!Number.isInteger(embedBatchSize) || embedBatchSize < 1) {
    throw new InvalidInputError('embedBatchSize must be a positive integer');
  }
  return {
    chunkSize,
    chunkOverlap,
    maxBytes: positive('maxBytes', options.maxBytes ?? 20 * 1024 * 1024),
    timeoutMs: positive('timeoutMs', options.timeoutMs ?? 30_000),
    embedBatchSize,
    snapshotDelayMs: Math.max(0, options.snapshotDelayMs ?? 1000),
  };
}

function checkMetadata(metadata: unknown): Record<string, unknown> | undefined {
  if (metadata === undefined) return undefined;
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new InvalidInputError('Knowledge metadata must be a plain object');
  }
  try {
    return JSON.parse(JSON.stringify(metadata)) as Record<string, unknown>;
  } catch (error) {
    throw new InvalidInputError('Knowledge metadata must be JSON-serializable', { cause: error });
  }
}

function publicDocument(record: DocumentRecord): KnowledgeDocument {
  const document: KnowledgeDocument = {
    id: record.id,
    source: record.source,
    chunkCount: record.chunkCount,
    addedAt: record.addedAt,
  };
  if (record.title !== undefined) document.title = record.title;
  if (record.metadata !== undefined) document.metadata = structuredClone(record.metadata);
  return document;
}

/** The `title` option, trimmed; undefined when absent or blank. */
function chosenTitle(title: unknown): string | undefined {
  if (title === undefined) return undefined;
  if (typeof title !== 'string') throw new InvalidInputError('Knowledge add option "title" must be a string');
  return title.trim() || undefined;
}

/** What is embedded for a chunk: its document title and heading path give it context. */
function embeddingText(title: string | undefined, chunk: Pick<Chunk, 'headings' | 'text'>): string {
  const context = [title, ...chunk.headings].filter((part) => part && !chunk.text.startsWith(part));
  return context.length > 0 ? `${context.join(' › ')}\n\n${chunk.text}` : chunk.text;
}
