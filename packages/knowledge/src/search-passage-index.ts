import { SearchIndex, type SerializedSearchIndex } from '@sessions/search';
import type { PassageIndex } from './passage-index.js';

/** Field weights of a passage: its document title and heading path count more than its body. */
const FIELDS = { title: 2, headings: 1.5, text: 1 } as const;

/** A new, empty passage index on `@sessions/search`; its vector length is set by the first vector. */
export function createPassageIndex(): PassageIndex {
  return new SearchIndex({ fields: FIELDS });
}

/** A passage index from a snapshot written by `toJSON()`; throws when it cannot be read. */
export function loadPassageIndex(json: unknown): PassageIndex {
  return SearchIndex.fromJSON(json as SerializedSearchIndex);
}
