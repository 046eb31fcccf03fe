import { SearchIndex, type SerializedSearchIndex } from '@sessions/search';
import type { PassageIndex } from './passage-index.js';

/** Field weights of a passage: its document title and heading path count more than its body. */
const FIELDS = { title: 2, headings: 1.5, text: 1 } as const;

/**
 * Weight of a query's adjacent word pairs ("boundary layer") against its single words. Documents
 * are technical prose where such pairs name one thing, so they count for more here than in
 * `SearchIndex`'s default (0.3), which suits short chat memories. Cranfield nDCG@10 through
 * Knowledge: 0.419 at 0.3, 0.426 at 0.5, better on both halves of the queries (bench/README.md).
 */
const PHRASE_WEIGHT = 0.5;

/** A new, empty passage index on `@sessions/search`; its vector length is set by the first vector. */
export function createPassageIndex(): PassageIndex {
  return new SearchIndex({ fields: FIELDS, phraseWeight: PHRASE_WEIGHT });
}

/** A passage index from a snapshot written by `toJSON()`; throws when it cannot be read. */
export function loadPassageIndex(json: unknown): PassageIndex {
  return SearchIndex.fromJSON(json as SerializedSearchIndex, { phraseWeight: PHRASE_WEIGHT });
}
