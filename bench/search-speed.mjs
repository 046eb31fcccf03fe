// Speed of @sessions/search against MiniSearch on the same data: search p50 over 10,000 documents,
// ingest of the Cranfield corpus, and loading a serialized 10,000-document index vs building it.
//
//   npx turbo run build --filter=@sessions/search
//   node bench/search-speed.mjs --data /work/shared/datasets
import { performance } from 'node:perf_hooks';
import { SearchIndex } from '@sessions/search';
import MiniSearch from 'minisearch';
import {
  fmt,
  loadCranfield,
  loadLocomo,
  miniSearchVariants,
  newMiniSearch,
  parseArgs,
  percentile,
  printTable,
  writeResults,
} from './lib-search.mjs';

const args = parseArgs();
const DOCS = 10_000;
const conversations = loadLocomo(args.data);
const cranfield = loadCranfield(args.data);

// 10,000 memory-sized documents of real text: every LoCoMo turn, then Cranfield abstracts cut into
// sentences, until there are 10,000. Queries: every LoCoMo question and Cranfield query.
const docs = [];
for (const c of conversations) {
  for (const t of c.turns) docs.push({ id: `${c.name}:${t.id}`, text: `${t.speaker}: ${t.text}` });
}
outer: for (const d of cranfield.docs) {
  for (const [i, sentence] of d.text.split(' . ').entries()) {
    if (docs.length >= DOCS) break outer;
    if (sentence.trim()) docs.push({ id: `cran:${d.id}:${i}`, text: sentence });
  }
}
const queries = [
  ...conversations.flatMap((c) => c.questions.map((q) => q.question)),
  ...cranfield.queries.map((q) => q.text),
];

const median = (values) => percentile(values, 50);
function time(fn) {
  const start = performance.now();
  const value = fn();
  return { ms: performance.now() - start, value };
}
/** Best of `times` runs: the machine may be shared, and the minimum is the stable estimate. */
function best(times, fn) {
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < times; i++) min = Math.min(min, time(fn).ms);
  return min;
}
const engines = {
  ...Object.fromEntries(
    Object.entries(miniSearchVariants).map(([name, variant]) => [
      name,
      {
        build: (items, fields) => {
          const ms = newMiniSearch(fields, variant);
          ms.addAll(items);
          return ms;
        },
        search: (index, q) => index.search(q).slice(0, 10),
        serialize: (index) => JSON.stringify(index),
        load: (json, fields) => MiniSearch.loadJSON(json, { fields, ...variant }),
      },
    ]),
  ),
  '@sessions/search (feedback on, default)': {
    build: (items, fields) => {
      const index = new SearchIndex({ fields });
      index.addAll(items);
      return index;
    },
    search: (index, q) => index.search(q, { limit: 10 }),
    serialize: (index) => JSON.stringify(index),
    load: (json) => SearchIndex.fromJSON(json),
  },
  '@sessions/search (feedback off)': {
    build: (items, fields) => {
      const index = new SearchIndex({ fields, feedback: false });
      index.addAll(items);
      return index;
    },
    search: (index, q) => index.search(q, { limit: 10 }),
    serialize: (index) => JSON.stringify(index),
    load: (json) => SearchIndex.fromJSON(json),
  },
};

const rows = [];
const results = {};
const baseline = 'MiniSearch + stemming + stop words';
const ROUNDS = 5;
const built = Object.fromEntries(Object.entries(engines).map(([name, e]) => [name, e.build(docs, ['text'])]));
const searchTimes = Object.fromEntries(Object.keys(engines).map((name) => [name, []]));
for (const [name, engine] of Object.entries(engines)) {
  for (const q of queries.slice(0, 200)) engine.search(built[name], q); // warm up
}
// Rounds interleave the engines so that a busy moment of the machine hits them alike.
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, engine] of Object.entries(engines)) {
    for (const q of queries) searchTimes[name].push(time(() => engine.search(built[name], q)).ms);
  }
}
for (const [name, engine] of Object.entries(engines)) {
  const json = engine.serialize(built[name]);
  results[name] = {
    searchP50Ms: median(searchTimes[name]),
    searchP95Ms: percentile(searchTimes[name], 95),
    ingestCranfieldMs: best(15, () => engine.build(cranfield.docs, ['title', 'text'])),
    build10kMs: best(7, () => engine.build(docs, ['text'])),
    load10kMs: best(15, () => engine.load(json, ['text'])),
    serializedBytes: Buffer.byteLength(json),
  };
}
for (const [name, r] of Object.entries(results)) {
  const base = results[baseline];
  rows.push({
    engine: name,
    'search p50 ms': fmt(r.searchP50Ms, 3),
    'p95 ms': fmt(r.searchP95Ms, 3),
    'p50 vs base': `${fmt(r.searchP50Ms / base.searchP50Ms, 2)}×`,
    'ingest Cranfield ms': fmt(r.ingestCranfieldMs, 1),
    'ingest vs base': `${fmt(r.ingestCranfieldMs / base.ingestCranfieldMs, 2)}×`,
    'build 10k ms': fmt(r.build10kMs, 1),
    'load 10k ms': fmt(r.load10kMs, 1),
    'load / build': `${fmt(r.load10kMs / r.build10kMs, 2)}×`,
    'serialized KB': fmt(r.serializedBytes / 1024, 0),
  });
}
printTable(
  `Speed: ${docs.length} documents, ${queries.length} queries × ${ROUNDS} rounds (limit 10); ingest = ${cranfield.docs.length} Cranfield docs (title + text), best of 15; build/load best of 7/15 (load parses the JSON text); "base" = ${baseline}`,
  rows,
);

// Vectors: 10,000 random unit vectors of 384 dimensions, exact cosine; hybrid = lexical + vector, RRF.
const DIMS = 384;
let seed = 42;
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31 - 0.5;
};
const randomVector = () => Float32Array.from({ length: DIMS }, random);
const docVectors = docs.map(() => randomVector());
const queryVectors = queries.map(() => randomVector());
let vectorIndex;
const vectorBuild = best(3, () => {
  vectorIndex = new SearchIndex();
  for (const [i, d] of docs.entries()) vectorIndex.add({ ...d, vector: docVectors[i] });
});
const vectorOnly = [];
const hybrid = [];
for (let round = 0; round < ROUNDS; round++) {
  queries.forEach((q, i) => {
    vectorOnly.push(time(() => vectorIndex.search('', { vector: queryVectors[i], limit: 10 })).ms);
    hybrid.push(time(() => vectorIndex.search(q, { vector: queryVectors[i], limit: 10 })).ms);
  });
}
const vectorJson = JSON.stringify(vectorIndex);
const vectorLoad = best(7, () => SearchIndex.fromJSON(vectorJson));
const vectorRows = [
  {
    'vectors (384-d)': `${docs.length}`,
    'add 10k docs + vectors ms': fmt(vectorBuild, 1),
    'vector search p50 ms': fmt(median(vectorOnly), 3),
    'hybrid search p50 ms': fmt(median(hybrid), 3),
    'load ms': fmt(vectorLoad, 1),
    'serialized MB': fmt(Buffer.byteLength(vectorJson) / 2 ** 20, 1),
  },
];
printTable(
  'Vectors: exact cosine (brute force over unit vectors) and hybrid (BM25F + cosine, RRF)',
  vectorRows,
);

writeResults('search-speed', args, {
  documents: docs.length,
  queries: queries.length,
  baseline,
  engines: results,
  vectors: {
    dimensions: DIMS,
    documents: docs.length,
    addAllMs: vectorBuild,
    vectorSearchP50Ms: median(vectorOnly),
    hybridSearchP50Ms: median(hybrid),
    loadMs: vectorLoad,
    serializedBytes: Buffer.byteLength(vectorJson),
  },
});
