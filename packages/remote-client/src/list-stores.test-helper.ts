import {
  type KnowledgeAddOptions,
  type KnowledgeBase,
  type KnowledgeDocument,
  type KnowledgeHit,
  type KnowledgeSource,
  type MemoryHit,
  type MemoryInput,
  type MemoryRecord,
  type MemorySearchOptions,
  type MemoryStore,
  newId,
  type Scope,
} from '@sessions/core';

/**
 * Small in-memory ports for the end-to-end tests, which need a memory and a knowledge base behind
 * the real server (the @sessions/memory and @sessions/knowledge packages are built elsewhere).
 * Search is case-insensitive word overlap; that is all these tests need.
 */
function overlap(query: string, text: string): number {
  const words = new Set(text.toLowerCase().match(/\w+/g) ?? []);
  const asked = query.toLowerCase().match(/\w+/g) ?? [];
  if (asked.length === 0) return 0;
  return asked.filter((word) => words.has(word)).length / asked.length;
}

function inScope(record: MemoryRecord, scope: Scope | undefined): boolean {
  if (!scope) return true;
  return (Object.keys(scope) as Array<keyof Scope>).every(
    (key) => scope[key] === undefined || record.scope[key] === scope[key],
  );
}

export class ListMemoryStore implements MemoryStore {
  readonly records: MemoryRecord[] = [];

  async add(input: string | MemoryInput, scope: Scope = {}): Promise<MemoryRecord> {
    const {
      text,
      metadata = {},
      createdAt = new Date(),
    } = typeof input === 'string' ? { text: input } : input;
    const record: MemoryRecord = {
      id: newId('mem'),
      text,
      metadata,
      scope,
      createdAt: typeof createdAt === 'string' ? createdAt : createdAt.toISOString(),
    };
    this.records.push(record);
    return structuredClone(record);
  }

  async search(query: string, opts: MemorySearchOptions = {}): Promise<MemoryHit[]> {
    const { limit = 5, scope, filter = {} } = opts;
    return this.records
      .filter((record) => inScope(record, scope))
      .filter((record) => Object.entries(filter).every(([key, value]) => record.metadata[key] === value))
      .map((record) => ({ ...structuredClone(record), score: overlap(query, record.text) }))
      .filter((hit) => hit.score > 0)
      .sort((a, b) => b.score - a.score)
      .slice(0, limit);
  }

  async list(scope?: Scope): Promise<MemoryRecord[]> {
    return structuredClone(this.records.filter((record) => inScope(record, scope)));
  }

  async get(id: string): Promise<MemoryRecord | undefined> {
    const record = this.records.find((candidate) => candidate.id === id);
    return record && structuredClone(record);
  }

  async delete(id: string): Promise<boolean> {
    const index = this.records.findIndex((record) => record.id === id);
    if (index < 0) return false;
    this.records.splice(index, 1);
    return true;
  }

  async clear(scope?: Scope): Promise<number> {
    const kept = this.records.filter((record) => !inScope(record, scope));
    const removed = this.records.length - kept.length;
    this.records.splice(0, this.records.length, ...kept);
    return removed;
  }
}

interface StoredDocument extends KnowledgeDocument {
  text: string;
}

export class ListKnowledgeBase implements KnowledgeBase {
  readonly documents: StoredDocument[] = [];
  /** What `add` received, to check that files arrive as bytes with their name, never as a path. */
  readonly received: Array<{ source: KnowledgeSource; options: KnowledgeAddOptions | undefined }> = [];

  async add(source: KnowledgeSource, options?: KnowledgeAddOptions): Promise<KnowledgeDocument> {
    this.received.push({ source, options });
    let text: string;
    let title: string | undefined;
    let origin: string;
    if (source instanceof Uint8Array) {
      text = new TextDecoder().decode(source);
      origin = options?.filename ?? 'upload';
    } else if (typeof source === 'object' && 'text' in source) {
      ({ text, title } = source);
      origin = 'text';
    } else {
      throw new Error('ListKnowledgeBase takes bytes or { text } only');
    }
    const doc: StoredDocument = {
      id: options?.id ?? newId('doc'),
      source: origin,
      ...(title !== undefined && { title }),
      chunkCount: 1,
      addedAt: new Date().toISOString(),
      ...(options?.metadata !== undefined && { metadata: options.metadata }),
      text,
    };
    this.documents.push(doc);
    const { text: _text, ...document } = doc;
    return document;
  }

  async search(query: string, opts: { limit?: number } = {}): Promise<KnowledgeHit[]> {
    return this.documents
      .map((doc) => ({
        documentId: doc.id,
        source: doc.source,
        ...(doc.title !== undefined && { title: doc.title }),
        chunkIndex: 0,
        text: doc.text,
        score: overlap(query, doc.text),
        start: 0,
        end: doc.text.length,
      }))
      .filter((hit) => hit.score > 0)
      .sort((a, b) => b.score - a.score)
      .slice(0, opts.limit ?? 5);
  }

  async list(): Promise<KnowledgeDocument[]> {
    return this.documents.map(({ text: _text, ...document }) => document);
  }

  async remove(documentId: string): Promise<boolean> {
    const index = this.documents.findIndex((doc) => doc.id === documentId);
    if (index < 0) return false;
    this.documents.splice(index, 1);
    return true;
  }
}
