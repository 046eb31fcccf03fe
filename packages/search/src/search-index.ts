import { InvalidInputError, SessionCorruptError } from '@sessions/core';
import { fromBase64, toBase64 } from './codec.js';
import { type FusionOptions, type Ranked, reciprocalRankFusion } from './fusion.js';
import { type LexicalField, LexicalIndex, type WeightedTerm } from './lexical-index.js';
import { englishStopWords } from './stop-words.js';
import { type TokenizeOptions, tokenize } from './tokenizer.js';
import { TopK } from './top-k.js';
import { VectorIndex } from './vector-index.js';

/** BM25F parameters of one text field. */
export interface SearchFieldOptions {
  /** How much a match in this field counts relative to the others (default 1). */
  weight?: number;
  /** Length normalisation, 0 (none) to 1 (full); default the index's `b`. */
  b?: number;
}

/** Pseudo-relevance feedback (RM3): the query is expanded with terms of its best first-pass hits. */
export interface FeedbackOptions {
  /** How many first-pass hits feed the expansion (default 10). */
  documents?: number;
  /** How many expansion terms are added (default 40). */
  terms?: number;
  /** Weight kept by the original query, 0 to 1 (default 0.3); the rest goes to expansion terms. */
  originalWeight?: number;
  /**
   * Feedback runs only when the index holds at least this many documents (default 100): on a
   * handful of documents the "relevance model" is just every document, and expansion would rank
   * the longest one first.
   */
  minDocuments?: number;
  /**
   * Words of the best hits whose idf is below this are not used as expansion terms (default 0:
   * all are). Chatty text (conversations) is full of common words that cost time and add noise:
   * 2 keeps words found in fewer than about one document in eight.
   */
  minIdf?: number;
}

export interface SearchIndexOptions {
  /**
   * The text fields of a document: names (`['title', 'text']`) or names with a weight or
   * `SearchFieldOptions` (`{ title: 2, text: 1 }`). Default `['text']`. `id` and `vector` are
   * reserved.
   */
  fields?: readonly string[] | Readonly<Record<string, number | SearchFieldOptions>>;
  /** BM25 term-frequency saturation (default 1.2). */
  k1?: number;
  /** BM25 length normalisation for fields that do not set their own (default 0.75). */
  b?: number;
  /** Stemming and stop words (default: Porter stemming, `englishStopWords`). */
  tokenizer?: TokenizeOptions;
  /**
   * Also index each pair of adjacent words ("boundary layer") as a phrase term, so a query's word
   * pairs boost documents holding them in order (default true).
   */
  phrases?: boolean;
  /** Weight of a query's word pairs relative to its words (default 0.3); 0 ignores them. */
  phraseWeight?: number;
  /** Query expansion by pseudo-relevance feedback (RM3); `false` turns it off. Default on. */
  feedback?: boolean | FeedbackOptions;
  /** Combination of lexical and vector rankings (default RRF). */
  fusion?: FusionOptions;
  /** Vector dimensions; default: fixed by the first vector added. */
  dimensions?: number;
}

/**
 * A document: an `id`, text per configured field (a string, strings, or a number; other fields are
 * ignored, so a document may carry metadata) and an optional embedding.
 */
export type SearchDocument = {
  id: string;
  vector?: Float32Array | readonly number[];
} & Record<string, unknown>;

export interface SearchOptions {
  /** Most results returned (default 10). */
  limit?: number;
  /** Only documents for which this returns true are ranked (applied before `limit`). */
  filter?: (id: string) => boolean;
  /** The query's embedding: ranks by cosine similarity too and fuses both rankings. */
  vector?: Float32Array | readonly number[];
  /** Results scoring below this (0 to 1) are dropped (default 0: every match). */
  minScore?: number;
  /** Overrides the index's feedback setting for this search. */
  feedback?: boolean | FeedbackOptions;
  /** Overrides the index's fusion setting for this search. */
  fusion?: FusionOptions;
}

export interface SearchResult {
  id: string;
  /** In [0, 1], higher is better; see the package README for how it is computed. */
  score: number;
}

/** Options that can be given again to `SearchIndex.fromJSON` (functions are not serialized). */
export type SearchIndexLoadOptions = Omit<SearchIndexOptions, 'fields' | 'dimensions' | 'phrases'>;

/** What `toJSON()` returns: plain JSON, binary parts in base64. */
export interface SerializedSearchIndex {
  format: 'sessions-search-index';
  version: 1;
  fields: Record<string, { weight: number; b: number }>;
  k1: number;
  phrases: boolean;
  phraseWeight: number;
  stem: boolean | 'custom';
  /** `'english'` for `englishStopWords`, `false` for none, else the words. */
  stopWords: 'english' | false | string[];
  feedback: false | Required<FeedbackOptions>;
  fusion: FusionOptions;
  ids: string[];
  terms: string[];
  /** Word pairs as indexes into `terms`, varints in base64. */
  pairs: string;
  lengths: string;
  postings: string;
  vectors?: { dimensions: number; slots: string; data: string };
}

const RESERVED_FIELDS = new Set(['id', 'vector']);
const DEFAULT_FEEDBACK: Required<FeedbackOptions> = {
  documents: 10,
  terms: 40,
  originalWeight: 0.3,
  minDocuments: 100,
  minIdf: 0,
};
const DEFAULT_DEPTH = 100;

/**
 * A search index over documents with named text fields and optional embeddings: BM25F lexical
 * ranking (optionally with RM3 query expansion), exact cosine ranking over vectors, and rank fusion
 * of the two. Pure and synchronous; persist it with `toJSON()` and `SearchIndex.fromJSON()`.
 */
export class SearchIndex {
  private lexical: LexicalIndex;
  private vectors: VectorIndex;
  private readonly dimensions: number | undefined;
  private readonly tokenizeOptions: TokenizeOptions;
  private readonly k1: number;
  private readonly phrases: boolean;
  private readonly phraseWeight: number;
  private readonly feedback: false | Required<FeedbackOptions>;
  private readonly fusion: FusionOptions;

  private readonly slotOf = new Map<string, number>();
  private idOf: (string | undefined)[] = [];
  private freeSlots: number[] = [];
  /** Orders equal scores by id, so that results do not depend on internal slot numbers. */
  private readonly byId = (a: number, b: number): number => {
    const idA = this.idOf[a]!;
    const idB = this.idOf[b]!;
    return idA < idB ? -1 : idA > idB ? 1 : 0;
  };

  constructor(options: SearchIndexOptions = {}) {
    const b = options.b ?? 0.75;
    checkRange('b', b, 0, 1);
    this.k1 = options.k1 ?? 1.2;
    checkRange('k1', this.k1, 0, 100);
    this.lexical = new LexicalIndex(resolveFields(options.fields, b));
    this.phrases = options.phrases ?? true;
    this.phraseWeight = options.phraseWeight ?? 0.3;
    checkRange('phraseWeight', this.phraseWeight, 0, 100);
    if (
      options.dimensions !== undefined &&
      (!Number.isInteger(options.dimensions) || options.dimensions < 1)
    ) {
      throw new InvalidInputError(`Invalid dimensions ${options.dimensions}: use a positive integer`);
    }
    this.dimensions = options.dimensions;
    this.vectors = new VectorIndex(options.dimensions);
    this.tokenizeOptions = { ...options.tokenizer };
    this.feedback = resolveFeedback(options.feedback ?? true);
    this.fusion = { ...options.fusion };
  }

  /** Number of documents. */
  get size(): number {
    return this.slotOf.size;
  }

  /** The vector dimensions: given as an option or fixed by the first vector; undefined before. */
  get vectorDimensions(): number | undefined {
    return this.vectors.dimensions;
  }

  /** The configured field names, in order. */
  get fields(): string[] {
    return this.lexical.fields.map((field) => field.name);
  }

  has(id: string): boolean {
    return this.slotOf.has(id);
  }

  /** The ids of all documents, in no particular order. */
  ids(): string[] {
    return Array.from(this.slotOf.keys());
  }

  /**
   * Adds a document, replacing one with the same id. Throws `InvalidInputError` for a missing id,
   * a field value that is not text, or a vector of the wrong length.
   */
  add(doc: SearchDocument): void {
    if (typeof doc !== 'object' || doc === null || typeof doc.id !== 'string' || doc.id.length === 0) {
      throw new InvalidInputError('Invalid search document: it needs an "id" that is a non-empty string');
    }
    const fieldTokens = this.lexical.fields.map((field) => this.tokenize(fieldText(doc, field.name)));
    let unit: Float32Array | undefined;
    if (doc.vector !== undefined) {
      try {
        unit = this.vectors.normalise(doc.vector);
      } catch (error) {
        throw new InvalidInputError(`Invalid vector for document "${doc.id}": ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    this.remove(doc.id);
    const slot = this.freeSlots.pop() ?? this.idOf.length;
    this.idOf[slot] = doc.id;
    this.slotOf.set(doc.id, slot);
    this.lexical.add(slot, fieldTokens, this.phrases);
    if (unit) this.vectors.setUnit(slot, unit);
  }

  /** Adds documents in order (see `add`). */
  addAll(docs: Iterable<SearchDocument>): void {
    for (const doc of docs) this.add(doc);
  }

  /** Removes a document; returns whether it was there. */
  remove(id: string): boolean {
    const slot = this.slotOf.get(id);
    if (slot === undefined) return false;
    this.lexical.remove(slot);
    this.vectors.delete(slot);
    this.slotOf.delete(id);
    this.idOf[slot] = undefined;
    this.freeSlots.push(slot);
    return true;
  }

  /** Removes every document (and, unless `dimensions` was given, forgets the vector dimensions). */
  clear(): void {
    this.lexical = new LexicalIndex(this.lexical.fields);
    this.vectors = new VectorIndex(this.dimensions);
    this.slotOf.clear();
    this.idOf = [];
    this.freeSlots = [];
  }

  /**
   * The best documents for a query, best first, each with a score in [0, 1]. With `vector`, the
   * lexical and the cosine rankings are fused; with an empty query and a vector, only cosine ranks.
   * A query with no searchable words and no vector returns `[]`.
   */
  search(query: string, options: SearchOptions = {}): SearchResult[] {
    const limit = options.limit ?? 10;
    if (!Number.isInteger(limit) || limit < 0) {
      throw new InvalidInputError(`Invalid limit ${limit}: use a non-negative integer`);
    }
    const minScore = options.minScore ?? 0;
    checkRange('minScore', minScore, 0, 1);
    if (typeof query !== 'string') throw new InvalidInputError('Invalid query: it must be a string');
    if (limit === 0 || this.size === 0) return [];
    const accept = this.acceptor(options.filter);
    const fusion = { ...this.fusion, ...options.fusion };
    const depth = Math.max(limit, fusion.depth ?? DEFAULT_DEPTH);

    let queryVector: Float32Array | undefined;
    if (options.vector !== undefined) {
      try {
        queryVector = this.vectors.normalise(options.vector);
      } catch (error) {
        throw new InvalidInputError(`Invalid query vector: ${(error as Error).message}`, { cause: error });
      }
    }
    const terms = this.queryTerms(query);
    const hasVectors = queryVector !== undefined && this.vectors.size > 0;
    if (terms.length === 0 && !hasVectors) return [];

    const feedback = options.feedback === undefined ? this.feedback : resolveFeedback(options.feedback);
    const lexicalDepth = hasVectors ? depth : limit;
    const lexical = terms.length > 0 ? this.lexicalRanking(terms, lexicalDepth, accept, feedback) : [];

    // A query with no searchable word ranks by cosine alone, whatever the fusion method; with
    // words that match nothing, RRF has one ranking left and returns it as it is.
    let ranked: Ranked[];
    if (!hasVectors) {
      ranked = lexical;
    } else if (terms.length === 0) {
      ranked = this.vectorRanking(queryVector!, limit, accept);
    } else if (fusion.method === 'convex') {
      ranked = this.convexRanking(lexical, queryVector!, fusion.alpha ?? 0.5, limit, accept);
    } else {
      const cosine = this.vectorRanking(queryVector!, depth, accept);
      ranked =
        lexical.length === 0
          ? cosine
          : sortRanked(reciprocalRankFusion([lexical, cosine], fusion.k ?? 60), this.byId);
    }
    const out: SearchResult[] = [];
    for (const { item, score } of ranked) {
      if (out.length >= limit) break;
      if (score <= 0 || score < minScore) continue;
      out.push({ id: this.idOf[item]!, score: Math.min(1, score) });
    }
    return out;
  }

  /**
   * Sets or (with `undefined`) drops the vector of a document already added, without re-indexing
   * its text: for vectors kept apart from a serialized index. Returns false if there is no such
   * document; throws `InvalidInputError` for a bad vector.
   */
  setVector(id: string, vector: Float32Array | readonly number[] | undefined): boolean {
    const slot = this.slotOf.get(id);
    if (slot === undefined) return false;
    if (vector === undefined) {
      this.vectors.delete(slot);
      return true;
    }
    let unit: Float32Array;
    try {
      unit = this.vectors.normalise(vector);
    } catch (error) {
      throw new InvalidInputError(`Invalid vector for document "${id}": ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.vectors.setUnit(slot, unit);
    return true;
  }

  /** The index as plain JSON (binary parts base64), for `SearchIndex.fromJSON`; same as `serialize()`. */
  toJSON(): SerializedSearchIndex {
    return this.serialize();
  }

  /**
   * The index as plain JSON (binary parts base64), for `SearchIndex.fromJSON`. With
   * `{ vectors: false }` the vectors are left out (put them back with `setVector`).
   */
  serialize(options: { vectors?: boolean } = {}): SerializedSearchIndex {
    const slotMap = new Int32Array(this.idOf.length).fill(-1);
    const ids: string[] = [];
    this.idOf.forEach((id, slot) => {
      if (id === undefined) return;
      slotMap[slot] = ids.length;
      ids.push(id);
    });
    const lexical = this.lexical.serialize(slotMap, ids.length);
    const vectors = options.vectors === false ? undefined : this.vectors.serialize(slotMap, ids.length);
    const stopWords = this.tokenizeOptions.stopWords;
    const stem = this.tokenizeOptions.stem;
    return {
      format: 'sessions-search-index',
      version: 1,
      fields: Object.fromEntries(this.lexical.fields.map((f) => [f.name, { weight: f.weight, b: f.b }])),
      k1: this.k1,
      phrases: this.phrases,
      phraseWeight: this.phraseWeight,
      stem: typeof stem === 'function' ? 'custom' : stem !== false,
      stopWords:
        stopWords === undefined || stopWords === englishStopWords
          ? 'english'
          : stopWords && Array.from(stopWords),
      feedback: this.feedback,
      fusion: this.fusion,
      ids,
      terms: lexical.terms,
      pairs: toBase64(lexical.pairs),
      lengths: toBase64(lexical.lengths),
      postings: toBase64(lexical.postings),
      ...(vectors && {
        vectors: {
          dimensions: vectors.dimensions,
          slots: toBase64(vectors.slots),
          data: toBase64(vectors.vectors),
        },
      }),
    };
  }

  /**
   * Loads an index written by `toJSON()` (the object or its JSON text) without re-tokenizing.
   * `options` may override the query-time settings (`k1`, `b`, `feedback`, `fusion`) and must give
   * the stemming function again if the index was built with one. Throws `SessionCorruptError` when
   * the data is not a valid serialized index.
   */
  static fromJSON(json: SerializedSearchIndex | string, options: SearchIndexLoadOptions = {}): SearchIndex {
    let data: SerializedSearchIndex;
    try {
      data = typeof json === 'string' ? (JSON.parse(json) as SerializedSearchIndex) : json;
    } catch (error) {
      throw new SessionCorruptError('Serialized search index is not valid JSON', { cause: error });
    }
    if (typeof data !== 'object' || data === null || data.format !== 'sessions-search-index') {
      throw new SessionCorruptError('Not a serialized search index: "format" is missing or wrong');
    }
    if (data.version !== 1) {
      throw new SessionCorruptError(
        `Serialized search index has version ${data.version}; this build reads 1`,
      );
    }
    if (data.stem === 'custom' && typeof options.tokenizer?.stem !== 'function') {
      throw new InvalidInputError(
        'This index was built with a custom stem function: pass it again as options.tokenizer.stem',
      );
    }
    try {
      const stopWords =
        data.stopWords === 'english'
          ? englishStopWords
          : data.stopWords === false
            ? false
            : new Set(data.stopWords);
      const fields: Record<string, SearchFieldOptions> = {};
      for (const [name, field] of Object.entries(data.fields)) {
        fields[name] = { weight: field.weight, b: field.b };
      }
      if (options.b !== undefined) for (const field of Object.values(fields)) field.b = options.b;
      const index = new SearchIndex({
        fields,
        k1: options.k1 ?? data.k1,
        phrases: data.phrases,
        phraseWeight: options.phraseWeight ?? data.phraseWeight,
        tokenizer: {
          stem: data.stem === 'custom' ? options.tokenizer?.stem : data.stem,
          stopWords,
          ...options.tokenizer,
        },
        feedback: options.feedback ?? data.feedback,
        fusion: options.fusion ?? data.fusion,
        ...(data.vectors && { dimensions: data.vectors.dimensions }),
      });
      index.load(data);
      return index;
    } catch (error) {
      if (error instanceof InvalidInputError) throw error;
      throw new SessionCorruptError(`Serialized search index is damaged: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  private load(data: SerializedSearchIndex): void {
    if (!Array.isArray(data.ids) || !Array.isArray(data.terms)) throw new RangeError('ids or terms missing');
    const count = data.ids.length;
    data.ids.forEach((id, slot) => {
      if (typeof id !== 'string' || this.slotOf.has(id))
        throw new RangeError(`bad or repeated id at ${slot}`);
      this.slotOf.set(id, slot);
    });
    this.idOf = data.ids.slice();
    if (count === 0) return;
    this.lexical.load(
      {
        terms: data.terms,
        pairs: fromBase64(data.pairs),
        lengths: fromBase64(data.lengths),
        postings: fromBase64(data.postings),
      },
      count,
    );
    if (data.vectors) {
      this.vectors.load(
        {
          dimensions: data.vectors.dimensions,
          slots: fromBase64(data.vectors.slots),
          vectors: fromBase64(data.vectors.data),
        },
        count,
      );
    }
  }

  private tokenize(text: string): string[] {
    return text.length === 0 ? [] : tokenize(text, this.tokenizeOptions);
  }

  /**
   * Query terms with their frequency in the query, in first-seen order, then the query's word pairs
   * with `phraseWeight` each (pairs the index has never seen are left out).
   */
  private queryTerms(query: string): WeightedTerm[] {
    const tokens = this.tokenize(query);
    const counts = new Map<string, number>();
    for (const term of tokens) counts.set(term, (counts.get(term) ?? 0) + 1);
    if (this.phrases && this.phraseWeight > 0) {
      for (const pair of pairs(tokens)) {
        if (this.lexical.docFrequency(pair) > 0)
          counts.set(pair, (counts.get(pair) ?? 0) + this.phraseWeight);
      }
    }
    return Array.from(counts, ([term, weight]) => ({ term, weight }));
  }

  private acceptor(filter: ((id: string) => boolean) | undefined): (slot: number) => boolean {
    if (!filter) return () => true;
    return (slot) => filter(this.idOf[slot]!);
  }

  /**
   * BM25F ranking. Scores are divided by the query's upper bound `Σ_t w_t · idf_t` (each term's
   * saturated frequency is below 1), so they lie in [0, 1). With feedback, the expanded query ranks
   * and its scores are rescaled so that the best hit keeps its first-pass score.
   */
  private lexicalRanking(
    terms: WeightedTerm[],
    depth: number,
    accept: (slot: number) => boolean,
    feedback: false | Required<FeedbackOptions>,
  ): Ranked[] {
    const first = this.bm25(terms, feedback ? Math.max(depth, feedback.documents) : depth, accept);
    if (!feedback || first.ranked.length === 0 || this.size < feedback.minDocuments) {
      return first.ranked.slice(0, depth);
    }
    const expanded = this.expand(terms, first.ranked.slice(0, feedback.documents), first.bound, feedback);
    const second = this.bm25(expanded, depth, accept);
    const best = second.ranked[0]?.score ?? 0;
    const scale = best > 0 ? first.ranked[0]!.score / best : 0;
    return second.ranked.map(({ item, score }) => ({ item, score: score * scale }));
  }

  /** BM25F scores divided by the bound; `bound` is returned too (it turns scores back into raw ones). */
  private bm25(
    terms: WeightedTerm[],
    depth: number,
    accept: (slot: number) => boolean,
  ): { ranked: Ranked[]; bound: number } {
    let bound = 0;
    for (const { term, weight } of terms) bound += weight * this.lexical.idf(term);
    const { slots, scores } = this.lexical.score(terms, this.k1);
    const top = new TopK(Math.min(depth, this.size), this.byId);
    for (const slot of slots) {
      const score = scores[slot]!;
      if (score > top.threshold && accept(slot)) top.offer(slot, score);
    }
    this.lexical.reset(slots);
    const ranked = top.sorted().map(({ item, score }) => ({ item, score: bound > 0 ? score / bound : 0 }));
    return { ranked, bound };
  }

  /**
   * RM3: the original terms (weights summing to 1) mixed with a relevance model of the top hits,
   * `P(t|R) = Σ_d P(d) · P(t|d)`, where `P(d)` is the softmax of the first-pass BM25F scores
   * (`exp(raw_d − raw_best)`) and `P(t|d)` the field-weighted frequency of t in d.
   */
  private expand(
    terms: WeightedTerm[],
    top: Ranked[],
    bound: number,
    feedback: Required<FeedbackOptions>,
  ): WeightedTerm[] {
    const best = top[0]?.score ?? 0;
    const docWeights = top.map(({ score }) => Math.exp(bound * (score - best)));
    let mass = 0;
    for (const weight of docWeights) mass += weight;
    const model = new Map<string, number>();
    top.forEach(({ item }, i) => {
      const docWeight = docWeights[i]! / mass;
      for (const { term, frequency } of this.lexical.wordVector(item)) {
        if (feedback.minIdf > 0 && this.lexical.idf(term) < feedback.minIdf) continue;
        model.set(term, (model.get(term) ?? 0) + docWeight * frequency);
      }
    });
    const expansion = Array.from(model, ([term, weight]) => ({ term, weight }))
      .sort((a, b) => b.weight - a.weight || (a.term < b.term ? -1 : 1))
      .slice(0, feedback.terms);
    let expansionMass = 0;
    for (const { weight } of expansion) expansionMass += weight;
    let queryMass = 0;
    for (const { weight } of terms) queryMass += weight;
    const mixed = new Map<string, number>();
    for (const { term, weight } of terms) mixed.set(term, (feedback.originalWeight * weight) / queryMass);
    if (expansionMass > 0) {
      for (const { term, weight } of expansion) {
        mixed.set(term, (mixed.get(term) ?? 0) + ((1 - feedback.originalWeight) * weight) / expansionMass);
      }
    }
    return Array.from(mixed, ([term, weight]) => ({ term, weight }));
  }

  private vectorRanking(query: Float32Array, depth: number, accept: (slot: number) => boolean): Ranked[] {
    const top = new TopK(Math.min(depth, this.size), this.byId);
    this.vectors.forEachSimilarity(query, (slot, cosine) => {
      if (cosine > 0 && cosine > top.threshold && accept(slot)) top.offer(slot, cosine);
    });
    return top.sorted().map(({ item, score }) => ({ item, score }));
  }

  private convexRanking(
    lexical: Ranked[],
    query: Float32Array,
    alpha: number,
    limit: number,
    accept: (slot: number) => boolean,
  ): Ranked[] {
    const lexicalScore = new Map<number, number>();
    for (const { item, score } of lexical) lexicalScore.set(item, score);
    const top = new TopK(Math.min(limit, this.size), this.byId);
    const seen = new Set<number>();
    this.vectors.forEachSimilarity(query, (slot, cosine) => {
      seen.add(slot);
      const score = alpha * (lexicalScore.get(slot) ?? 0) + (1 - alpha) * Math.max(0, cosine);
      if (score > 0 && score > top.threshold && accept(slot)) top.offer(slot, score);
    });
    for (const { item, score } of lexical) {
      if (!seen.has(item) && alpha * score > top.threshold) top.offer(item, alpha * score);
    }
    return top.sorted().map(({ item, score }) => ({ item, score }));
  }
}

/** Adjacent token pairs, joined by a space (which no token holds). */
function pairs(tokens: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < tokens.length; i++) out.push(`${tokens[i]} ${tokens[i + 1]}`);
  return out;
}

function sortRanked(ranked: Ranked[], tieBreak: (a: number, b: number) => number): Ranked[] {
  return ranked.sort((a, b) => b.score - a.score || tieBreak(a.item, b.item));
}

function fieldText(doc: SearchDocument, name: string): string {
  const value = doc[name];
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.join('\n');
  throw new InvalidInputError(
    `Invalid field "${name}" of document "${doc.id}": use a string, an array of strings or a number`,
  );
}

function resolveFields(fields: SearchIndexOptions['fields'], b: number): LexicalField[] {
  const entries: [string, number | SearchFieldOptions][] = Array.isArray(fields)
    ? fields.map((name: string) => [name, {}])
    : Object.entries(fields ?? { text: {} });
  if (entries.length === 0) throw new InvalidInputError('Invalid fields: give at least one field name');
  return entries.map(([name, spec]) => {
    if (typeof name !== 'string' || name.length === 0 || RESERVED_FIELDS.has(name)) {
      throw new InvalidInputError(`Invalid field name "${name}": "id" and "vector" are reserved`);
    }
    const options = typeof spec === 'number' ? { weight: spec } : spec;
    const field = { name, weight: options.weight ?? 1, b: options.b ?? b };
    checkRange(`weight of field "${name}"`, field.weight, 0, 1e6);
    checkRange(`b of field "${name}"`, field.b, 0, 1);
    return field;
  });
}

function resolveFeedback(feedback: boolean | FeedbackOptions | undefined): false | Required<FeedbackOptions> {
  if (!feedback) return false;
  const resolved = { ...DEFAULT_FEEDBACK, ...(feedback === true ? {} : feedback) };
  checkRange('feedback.originalWeight', resolved.originalWeight, 0, 1);
  if (!Number.isInteger(resolved.documents) || resolved.documents < 1) {
    throw new InvalidInputError(`Invalid feedback.documents ${resolved.documents}: use a positive integer`);
  }
  if (!Number.isInteger(resolved.terms) || resolved.terms < 0) {
    throw new InvalidInputError(`Invalid feedback.terms ${resolved.terms}: use a non-negative integer`);
  }
  checkRange('feedback.minIdf', resolved.minIdf, 0, 100);
  if (!Number.isInteger(resolved.minDocuments) || resolved.minDocuments < 0) {
    throw new InvalidInputError(
      `Invalid feedback.minDocuments ${resolved.minDocuments}: use a non-negative integer`,
    );
  }
  return resolved;
}

function checkRange(name: string, value: number, min: number, max: number): void {
  if (typeof value !== 'number' || !(value >= min && value <= max)) {
    throw new InvalidInputError(`Invalid ${name} ${value}: use a number from ${min} to ${max}`);
  }
}
