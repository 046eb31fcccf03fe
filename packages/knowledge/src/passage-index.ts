/** A passage as indexed: its id (`docId#chunkIndex`), text fields and optional embedding. */
export type Passage = {
  id: string;
  title: string;
  headings: string;
  text: string;
  vector?: Float32Array;
};

export interface PassageSearchOptions {
  limit: number;
  vector?: Float32Array;
}

/** The part of a search engine the knowledge base needs; scores are in [0, 1], best first. */
export interface PassageIndex {
  readonly size: number;
  add(passage: Passage): void;
  remove(id: string): boolean;
  search(query: string, options: PassageSearchOptions): { id: string; score: number }[];
  toJSON(): unknown;
}

/** The id of chunk `index` of document `documentId` in the index. */
export function passageId(documentId: string, index: number): string {
  return `${documentId}#${index}`;
}

/** The document id and chunk index of a passage id. */
export function parsePassageId(id: string): { documentId: string; chunkIndex: number } {
  const at = id.lastIndexOf('#');
  return { documentId: id.slice(0, at), chunkIndex: Number(id.slice(at + 1)) };
}
