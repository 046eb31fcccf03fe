export type { FusionOptions } from './fusion.js';
export type {
  FeedbackOptions,
  SearchDocument,
  SearchFieldOptions,
  SearchIndexLoadOptions,
  SearchIndexOptions,
  SearchOptions,
  SearchResult,
  SerializedSearchIndex,
} from './search-index.js';
export { SearchIndex } from './search-index.js';
export { englishStopWords } from './stop-words.js';
export type { TokenizeOptions } from './tokenizer.js';
export { stem, tokenize } from './tokenizer.js';
