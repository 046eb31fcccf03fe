import type {
  KnowledgeAddOptions,
  KnowledgeBase,
  KnowledgeDocument,
  KnowledgeHit,
  KnowledgeSource,
  MemoryHit,
  MemoryInput,
  MemoryRecord,
  MemorySearchOptions,
  MemoryStore,
  Scope,
} from '@sessions/core';
import { InvalidInputError, newId } from '@sessions/core';

const words = (text: string): Set<string> => new Set(text.toLowerCase().match(/[a-z0-9]+/g) ?? []);

/** Share of the query's words found in `text`, in [0, 1]. */
function overlap(query: string, text: string): number {
  const wanted = words(query);
  if (wanted.size === 0) return 0;
  const have = words(text);
  let found = 0;
  for (const word of wanted) if (have.has(word)) found += 1;
  return found / wanted.size;
}

function inScope(record: MemoryRecord, scope: Scope | undefined): boolean {
  if (!scope) return true;
  return (Object.keys(scope) as Array<keyof Scope>).every(
    (key) => scope[key] === undefined || record.scope[key] === undefined || record.scope[key] === scope[key],
  );
}

/** A small `MemoryStore` for tests: word-overlap search, in memory. */
export class TestMemory implements MemoryStore {
  readonly records = new Map<string, MemoryRecord>();

  async add(input: string | MemoryInput, scope: Scope = {}): Promise<MemoryRecord> {
    const given = typeof input === 'string' ? { text: input } : input;
    const createdAt = given.createdAt ?? new Date();
    const record: MemoryRecord = {
      id: newId('mem'),
      text: given.text,
      metadata: { ...given.metadata },
      scope: { ...scope },
      createdAt: typeof createdAt === 'string' ? createdAt : createdAt.toISOString(),
    };
    this.records.set(record.id, record);
    return structuredClone(record);
  }

  async search(query: string, opts: MemorySearchOptions = {}): Promise<MemoryHit[]> {
    const { limit = 5, scope, minScore = 0, filter = {} } = opts;
    return [...this.records.values()]
      .filter((record) => inScope(record, scope))
      .filter((record) => Object.entries(filter).every(([key, value]) => record.metadata[key] === value))
      .map((record) => ({ ...structuredClone(record), score: overlap(query, record.text) }))
      .filter((hit) => hit.score > 0 && hit.score >= minScore)
      .sort((a, b) => b.score - a.score)
      .slice(0, limit);
  }

  async list(scope?: Scope): Promise<MemoryRecord[]> {
    return [...this.records.values()]
      .filter((record) => inScope(record, scope))
      .map((r) => structuredClone(r));
  }

  async get(id: string): Promise<MemoryRecord | undefined> {
    const record = this.records.get(id);
    return record && structuredClone(record);
  }

  async delete(id: string): Promise<boolean> {
    return this.records.delete(id);
  }

  async clear(scope?: Scope): Promise<number> {
    let removed = 0;
    for (const record of [...this.records.values()]) {
      if (inScope(record, scope)) {
        this.records.delete(record.id);
        removed += 1;
      }
    }
    return removed;
  }
}

interface StoredDocument extends KnowledgeDocument {
  text: string;
}

/**
 * A small `KnowledgeBase` for tests: text and bytes (UTF-8 `.txt`/`.md` only), one chunk per
 * paragraph, word-overlap search. Paths and URLs are refused, as a server must never read them.
 */
export class TestKnowledge implements KnowledgeBase {
  readonly documents = new Map<string, StoredDocument>();
  /** Every source `add` was given, as received. */
  readonly received: Array<{ source: KnowledgeSource; options: KnowledgeAddOptions }> = [];

  async add(source: KnowledgeSource, options: KnowledgeAddOptions = {}): Promise<KnowledgeDocument> {
    this.received.push({ source, options });
    let text: string;
    let title: string | undefined;
    let name: string;
    if (source instanceof Uint8Array) {
      const filename = options.filename ?? '';
      if (!/\.(txt|md)$/i.test(filename)) {
        throw new InvalidInputError(
          `Unknown file type "${filename}": the test knowledge base reads .txt and .md`,
        );
      }
      text = new TextDecoder().decode(source);
      name = filename;
    } else if (typeof source === 'object' && 'text' in source) {
      text = source.text;
      title = source.title;
      name = source.title ?? 'text';
    } else {
      throw new InvalidInputError('The test knowledge base takes text or bytes only');
    }
    const id = options.id ?? newId('doc');
    const chunks = text.split(/\n\s*\n/).filter((chunk) => chunk.trim() !== '');
    const document: StoredDocument = {
      id,
      source: name,
      ...(title !== undefined && { title }),
      chunkCount: chunks.length,
      addedAt: new Date().toISOString(),
      ...(options.metadata !== undefined && { metadata: options.metadata }),
      text,
    };
    this.documents.set(id, document);
    const { text: _text, ...shown } = document;
    return shown;
  }

  async search(query: string, opts: { limit?: number } = {}): Promise<KnowledgeHit[]> {
    const hits: KnowledgeHit[] = [];
    for (const document of this.documents.values()) {
      let start = 0;
      document.text.split(/(\n\s*\n)/).forEach((piece, index) => {
        const end = start + piece.length;
        const score = index % 2 === 0 ? overlap(query, piece) : 0;
        if (score > 0) {
          hits.push({
            documentId: document.id,
            source: document.source,
            ...(document.title !== undefined && { title: document.title }),
            chunkIndex: index / 2,
            text: piece,
            score,
            start,
            end,
          });
        }
        start = end;
      });
    }
    return hits.sort((a, b) => b.score - a.score).slice(0, opts.limit ?? 5);
  }

  async list(): Promise<KnowledgeDocument[]> {
    return [...this.documents.values()].map(({ text: _text, ...document }) => document);
  }

  async remove(documentId: string): Promise<boolean> {
    return this.documents.delete(documentId);
  }
}
