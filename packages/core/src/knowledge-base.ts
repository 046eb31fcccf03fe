/** What `KnowledgeBase.add` takes. A plain string is a URL, a path or text, in that order. */
export type KnowledgeSource =
  | string
  | Uint8Array
  | { path: string }
  | { url: string }
  | { text: string; title?: string };

export interface KnowledgeAddOptions {
  /** Names the document; derived from its content when absent. */
  id?: string;
  metadata?: Record<string, unknown>;
  /** A file name that tells the loader the type of bytes (`report.pdf`). */
  filename?: string;
  /** The document's title; when absent, the loader's (a heading, the file name...). */
  title?: string;
  signal?: AbortSignal;
}

export interface KnowledgeDocument {
  id: string;
  source: string;
  title?: string;
  chunkCount: number;
  addedAt: string;
  metadata?: Record<string, unknown>;
}

/** A passage found by `KnowledgeBase.search`, with what is needed to cite it. */
export interface KnowledgeHit {
  documentId: string;
  source: string;
  title?: string;
  chunkIndex: number;
  text: string;
  /** Relevance in [0, 1]; higher is better. */
  score: number;
  /** Character offsets of the passage in the document's text. */
  start: number;
  end: number;
  /** 1-based page, for paged formats (PDF). */
  page?: number;
}

export interface KnowledgeSearchOptions {
  limit?: number;
}

/** Documents split into passages and searched by relevance. */
export interface KnowledgeBase {
  add(source: KnowledgeSource, opts?: KnowledgeAddOptions): Promise<KnowledgeDocument>;
  search(query: string, opts?: KnowledgeSearchOptions): Promise<KnowledgeHit[]>;
  list(): Promise<KnowledgeDocument[]>;
  /** Whether a document was removed. */
  remove(documentId: string): Promise<boolean>;
}
