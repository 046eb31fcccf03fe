import { SessionCorruptError, SessionsError, storeDamage } from '@sessions/core';
import type { Keyv } from 'keyv';
import type { Chunk } from './chunker.js';

const SCHEMA = 1;
const PREFIX = 'kb:';

/** A document as stored: the public record plus what is needed to find its chunks. */
export interface DocumentRecord {
  schema: number;
  id: string;
  source: string;
  title?: string;
  chunkCount: number;
  addedAt: string;
  metadata?: Record<string, unknown>;
  /** sha256 of the extracted text (hex). */
  hash: string;
  /** Characters of extracted text. */
  length: number;
}

/** A chunk as stored; its index is its position in the document's chunk list. */
export type StoredChunk = Omit<Chunk, 'index'>;

/** The serialized search index with what it was built from, so a stale snapshot is patched, not trusted. */
export interface IndexSnapshot {
  schema: number;
  /** The embedding space of the vectors in the index; `null` for a lexical-only index. */
  embedding: EmbeddingSpace | null;
  /** Per document: its content hash and chunk count when the snapshot was taken. */
  documents: Record<string, [hash: string, chunkCount: number]>;
  index: unknown;
}

/** Which embeddings fit together: the embedder's model name (when it has one) and vector length. */
export interface EmbeddingSpace {
  model: string | null;
  dimensions: number;
}

interface StoredEmbeddings {
  model: string | null;
  dimensions: number;
  /** Base64 of the little-endian float32 values of every chunk's vector, in chunk order. */
  data: string;
}

/**
 * The knowledge base's layout in a Keyv store. The catalog (`kb:catalog`, the list of document
 * ids) is the commit point of an add: chunks and embeddings are written first, then the document
 * record, then the catalog. Whatever the catalog does not list is an orphan and ignored.
 */
export class KnowledgeStore {
  readonly #keyv: Keyv;
  readonly #label: string;

  constructor(keyv: Keyv, label: string) {
    this.#keyv = keyv;
    this.#label = label;
  }

  async catalog(): Promise<string[]> {
    const value = await this.#get(`${PREFIX}catalog`);
    if (value === undefined) return [];
    if (!Array.isArray(value) || !value.every((id) => typeof id === 'string')) {
      throw this.#corrupt('the document catalog is not a list of ids');
    }
    return value;
  }

  async putCatalog(ids: string[]): Promise<void> {
    await this.#set(`${PREFIX}catalog`, ids);
  }

  /** The records of `ids` that exist and are readable; missing ones (orphans of a crash) are left out. */
  async records(ids: string[]): Promise<DocumentRecord[]> {
    if (ids.length === 0) return [];
    const values = await this.#getMany(ids.map((id) => `${PREFIX}doc:${id}`));
    const records: DocumentRecord[] = [];
    values.forEach((value, position) => {
      if (value === undefined || value === null) return;
      if (!isRecord(value) || value.id !== ids[position]) {
        throw this.#corrupt(`the record of document ${ids[position]} is malformed`);
      }
      records.push(value);
    });
    return records;
  }

  async putRecord(record: DocumentRecord): Promise<void> {
    await this.#set(`${PREFIX}doc:${record.id}`, record);
  }

  async putChunks(id: string, hash: string, chunks: readonly StoredChunk[]): Promise<void> {
    await this.#set(chunksKey(id, hash), chunks);
  }

  async chunks(record: DocumentRecord): Promise<StoredChunk[]> {
    const value = await this.#get(chunksKey(record.id, record.hash));
    if (!Array.isArray(value) || value.length !== record.chunkCount) {
      throw this.#corrupt(`the chunks of document ${record.id} are missing or incomplete`);
    }
    return value as StoredChunk[];
  }

  async putEmbeddings(
    id: string,
    hash: string,
    model: string | null,
    vectors: readonly Float32Array[],
  ): Promise<void> {
    const dimensions = vectors[0]?.length ?? 0;
    const data = new Float32Array(vectors.length * dimensions);
    vectors.forEach((vector, index) => {
      data.set(vector, index * dimensions);
    });
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    await this.#set(embeddingsKey(id, hash), {
      model,
      dimensions,
      data: bytes.toString('base64'),
    } satisfies StoredEmbeddings);
  }

  /**
   * The stored embeddings of a document, or `undefined` when absent or from another model or of
   * other dimensions (`dimensions` undefined: any).
   */
  async embeddings(
    record: DocumentRecord,
    model: string | null,
    dimensions: number | undefined,
  ): Promise<Float32Array[] | undefined> {
    const value = (await this.#getCached(embeddingsKey(record.id, record.hash))) as
      | StoredEmbeddings
      | undefined;
    if (!value || typeof value.data !== 'string' || (value.model ?? null) !== model) return undefined;
    if (dimensions !== undefined && value.dimensions !== dimensions) return undefined;
    dimensions = value.dimensions;
    const bytes = Buffer.from(value.data, 'base64');
    if (bytes.byteLength !== record.chunkCount * dimensions * 4) return undefined;
    const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    return Array.from({ length: record.chunkCount }, (_, index) =>
      all.subarray(index * dimensions, (index + 1) * dimensions),
    );
  }

  /** Deletes a document's record, chunks and embeddings (after the catalog no longer lists it). */
  async deleteDocument(id: string, hash: string): Promise<void> {
    await this.#keyv.deleteMany([`${PREFIX}doc:${id}`, chunksKey(id, hash), embeddingsKey(id, hash)]);
  }

  /** Deletes the chunks and embeddings of a replaced version of a document. */
  async deleteVersion(id: string, hash: string): Promise<void> {
    await this.#keyv.deleteMany([chunksKey(id, hash), embeddingsKey(id, hash)]);
  }

  async snapshot(): Promise<IndexSnapshot | undefined> {
    const value = (await this.#getCached(`${PREFIX}index`)) as IndexSnapshot | undefined;
    if (
      !value ||
      value.schema !== SCHEMA ||
      typeof value.documents !== 'object' ||
      value.documents === null
    ) {
      return undefined;
    }
    return value;
  }

  async putSnapshot(snapshot: Omit<IndexSnapshot, 'schema'>): Promise<void> {
    await this.#set(`${PREFIX}index`, { schema: SCHEMA, ...snapshot });
  }

  /**
   * `error` as a `SessionCorruptError` naming the store when it says the store is damaged (not a
   * SQLite database, a value at `key` that is not JSON); otherwise as it is.
   */
  damaged(error: unknown, key?: string): unknown {
    return storeDamage(error, {
      store: 'Knowledge store',
      file: this.#label,
      ...(key !== undefined && { key }),
    });
  }

  async #get(key: string): Promise<unknown> {
    try {
      return await this.#keyv.get<unknown>(key);
    } catch (error) {
      throw this.damaged(error, key);
    }
  }

  async #getMany(keys: string[]): Promise<unknown[]> {
    try {
      return await this.#keyv.getMany<unknown>(keys);
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw this.damaged(error);
      for (const key of keys) await this.#get(key); // throws naming the value that is not JSON
      throw this.damaged(error);
    }
  }

  /** The value of a cache entry (snapshot, embeddings): `undefined` when it is not JSON, so it is made again. */
  async #getCached(key: string): Promise<unknown> {
    try {
      return await this.#keyv.get<unknown>(key);
    } catch (error) {
      if (error instanceof SyntaxError) return undefined;
      throw this.damaged(error, key);
    }
  }

  async #set(key: string, value: unknown): Promise<void> {
    let ok: boolean;
    try {
      ok = await this.#keyv.set(key, value);
    } catch (error) {
      throw new SessionsError('unavailable', `Could not write ${key} to ${this.#label}`, { cause: error });
    }
    if (ok === false) throw new SessionsError('unavailable', `Could not write ${key} to ${this.#label}`);
  }

  #corrupt(what: string): SessionCorruptError {
    return new SessionCorruptError(`Knowledge store ${this.#label} is damaged: ${what}`, {
      file: this.#label,
    });
  }
}

export const RECORD_SCHEMA: number = SCHEMA;

function chunksKey(id: string, hash: string): string {
  return `${PREFIX}chunks:${id}:${hash.slice(0, 16)}`;
}

function embeddingsKey(id: string, hash: string): string {
  return `${PREFIX}emb:${id}:${hash.slice(0, 16)}`;
}

function isRecord(value: unknown): value is DocumentRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Partial<DocumentRecord>;
  return (
    typeof record.id === 'string' &&
    typeof record.hash === 'string' &&
    typeof record.source === 'string' &&
    typeof record.chunkCount === 'number' &&
    typeof record.addedAt === 'string'
  );
}
