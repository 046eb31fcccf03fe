#!/usr/bin/env node
// Knowledge quality and ingest speed on Cranfield, against MiniSearch (stemming + stop words) in
// the same run. Every document goes in with `Knowledge.add({ text, title }, { id })`; each query is
// searched and the passages' documents (first occurrence) ranked; nDCG@10 with gain 2^rel - 1.
//
//   pnpm build && node bench/knowledge-cranfield.mjs --data ../shared/datasets
//
// Options: --data <folder holding cranfield/> (required), --runs <ingest repetitions, default 5>,
// --sqlite (also time ingest into a SQLite file and reopening it), --split (also report nDCG@10 on
// the two halves of the queries: every query id here is odd, so the halves are ids 1 mod 4 and
// 3 mod 4, i.e. even and odd positions; a change is kept only if it helps both), --chunk-size N and
// --chunk-overlap N (Knowledge options other than the defaults; `--chunk-size 5000` keeps every
// Cranfield document whole).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Knowledge } from '@sessions/knowledge';
import MiniSearch from 'minisearch';
import { stemmer } from 'stemmer';
import { eng } from 'stopword';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : fallback;
};
const dataRoot = option('data');
if (!dataRoot) {
  console.error(
    'usage: node bench/knowledge-cranfield.mjs --data <datasets folder> [--runs 5] [--sqlite] [--split] [--chunk-size N] [--chunk-overlap N]',
  );
  process.exit(2);
}
const runs = Number(option('runs', '5'));
const chunking = {};
if (option('chunk-size')) chunking.chunkSize = Number(option('chunk-size'));
if (option('chunk-overlap')) chunking.chunkOverlap = Number(option('chunk-overlap'));
const folder = join(dataRoot, 'cranfield');

// ---- data ------------------------------------------------------------------------------------

const readJsonl = (file) =>
  readFileSync(join(folder, file), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line));
const corpus = readJsonl('corpus.jsonl').map((doc) => ({
  id: String(doc._id),
  title: doc.title,
  text: doc.text,
}));
const queries = readJsonl('queries.jsonl').map((query) => ({ id: String(query._id), text: query.text }));
const qrels = new Map();
for (const line of readFileSync(join(folder, 'qrels.tsv'), 'utf8').split('\n').slice(1)) {
  const [queryId, docId, score] = line.trim().split('\t');
  if (!queryId || !docId) continue;
  const relevance = Number(score);
  if (!(relevance > 0)) continue;
  if (!qrels.has(queryId)) qrels.set(queryId, new Map());
  qrels.get(queryId).set(docId, relevance);
}
const judged = queries.filter((query) => qrels.has(query.id));

// ---- metric ----------------------------------------------------------------------------------

function ndcgAt10(ranked, relevant) {
  const gain = (rel) => 2 ** rel - 1;
  let dcg = 0;
  ranked.slice(0, 10).forEach((docId, i) => {
    dcg += gain(relevant.get(docId) ?? 0) / Math.log2(i + 2);
  });
  const ideal = [...relevant.values()].sort((a, b) => b - a).slice(0, 10);
  const idcg = ideal.reduce((sum, rel, i) => sum + gain(rel) / Math.log2(i + 2), 0);
  return idcg === 0 ? 0 : dcg / idcg;
}

const mean = (values) => values.reduce((sum, value) => sum + value, 0) / values.length;
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

// ---- systems ---------------------------------------------------------------------------------

const stopWords = new Set(eng);
const processTerm = (term) => {
  const lower = term.toLowerCase();
  return stopWords.has(lower) ? null : stemmer(lower);
};

function buildMiniSearch() {
  const index = new MiniSearch({ fields: ['title', 'text'], processTerm });
  index.addAll(corpus);
  return index;
}

// Knowledge refuses a document without text (InvalidInputError); Cranfield has two (471, 995),
// which no query can find in either system anyway.
const nonEmpty = corpus.filter((doc) => `${doc.title}${doc.text}`.trim() !== '');

async function buildKnowledge(options = {}) {
  const kb = new Knowledge({ ...chunking, ...options });
  for (const doc of nonEmpty) await kb.add({ text: doc.text, title: doc.title }, { id: doc.id });
  return kb;
}

/** Documents in the order their best passage ranks. */
async function rankKnowledge(kb, query) {
  const hits = await kb.search(query, { limit: 50 });
  const seen = new Set();
  for (const hit of hits) seen.add(hit.documentId);
  return [...seen];
}

async function time(fn) {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

// ---- ingest: alternate the two systems so both see the same machine state ----------------------

await buildKnowledge(); // warm up
buildMiniSearch();
const ingest = { knowledge: [], minisearch: [] };
let kb;
let mini;
for (let run = 0; run < runs; run++) {
  const k = await time(() => buildKnowledge());
  const m = await time(async () => buildMiniSearch());
  ingest.knowledge.push(k.ms);
  ingest.minisearch.push(m.ms);
  kb = k.value;
  mini = m.value;
}

// ---- quality and search latency --------------------------------------------------------------

const perQuery = [];
const latency = { knowledge: [], minisearch: [] };
for (const query of judged) {
  const relevant = qrels.get(query.id);
  const k = await time(() => rankKnowledge(kb, query.text));
  const m = await time(async () => mini.search(query.text).map((result) => String(result.id)));
  latency.knowledge.push(k.ms);
  latency.minisearch.push(m.ms);
  perQuery.push({
    id: query.id,
    knowledge: ndcgAt10(k.value, relevant),
    minisearch: ndcgAt10(m.value, relevant),
  });
}
const ndcg = {
  knowledge: mean(perQuery.map((q) => q.knowledge)),
  minisearch: mean(perQuery.map((q) => q.minisearch)),
};
/** The two halves of the queries: ids 1 mod 4 (even positions) and 3 mod 4 (odd positions). */
const half = (rest) => perQuery.filter((q) => Number(q.id) % 4 === rest);
const split = {
  'ids 1 mod 4': {
    queries: half(1).length,
    knowledge: mean(half(1).map((q) => q.knowledge)),
    minisearch: mean(half(1).map((q) => q.minisearch)),
  },
  'ids 3 mod 4': {
    queries: half(3).length,
    knowledge: mean(half(3).map((q) => q.knowledge)),
    minisearch: mean(half(3).map((q) => q.minisearch)),
  },
};

// ---- optional: SQLite ingest and reopen --------------------------------------------------------

let sqlite;
if (args.includes('--sqlite')) {
  const dir = mkdtempSync(join(tmpdir(), 'knowledge-bench-'));
  try {
    const build = await time(() => buildKnowledge({ path: dir }));
    await build.value.close();
    const reopen = await time(async () => {
      const again = new Knowledge({ path: dir });
      await again.search('boundary layer', { limit: 10 });
      return again;
    });
    await reopen.value.close();
    sqlite = { ingestMs: build.ms, reopenAndFirstSearchMs: reopen.ms };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- report ----------------------------------------------------------------------------------

const ingestRatio = median(ingest.knowledge) / median(ingest.minisearch);
const fmt = (value, digits = 3) => value.toFixed(digits);
const rows = [
  ['system', 'nDCG@10', 'ingest ms (median)', 'search p50 ms'],
  [
    'MiniSearch 7.2 (stemming + stop words)',
    fmt(ndcg.minisearch),
    fmt(median(ingest.minisearch), 1),
    fmt(median(latency.minisearch), 2),
  ],
  [
    '@sessions/knowledge',
    fmt(ndcg.knowledge),
    fmt(median(ingest.knowledge), 1),
    fmt(median(latency.knowledge), 2),
  ],
];
console.log(
  `Cranfield: ${corpus.length} documents (${corpus.length - nonEmpty.length} empty ones skipped by Knowledge), ${judged.length} judged queries, ${runs} ingest runs\n`,
);
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
console.log(
  `\nnDCG@10 ${fmt(ndcg.knowledge)} (goal >= 0.42; baseline ${fmt(ndcg.minisearch)}), ingest ${fmt(ingestRatio, 2)}x MiniSearch addAll (goal <= 1.5x)`,
);
if (args.includes('--split')) {
  console.log('\n| half | queries | MiniSearch | @sessions/knowledge |');
  for (const [name, part] of Object.entries(split)) {
    console.log(`| ${name} | ${part.queries} | ${fmt(part.minisearch)} | ${fmt(part.knowledge)} |`);
  }
}
if (sqlite) {
  console.log(
    `SQLite: ingest ${fmt(sqlite.ingestMs, 0)} ms, reopen + first search ${fmt(sqlite.reopenAndFirstSearchMs, 0)} ms`,
  );
}

const results = {
  benchmark: 'knowledge-cranfield',
  date: new Date().toISOString(),
  node: process.version,
  documents: corpus.length,
  queries: judged.length,
  runs,
  knowledgeOptions: chunking,
  ndcg10: ndcg,
  split,
  ingestMs: { knowledge: ingest.knowledge, minisearch: ingest.minisearch, ratio: ingestRatio },
  searchP50Ms: { knowledge: median(latency.knowledge), minisearch: median(latency.minisearch) },
  ...(sqlite ? { sqlite } : {}),
  goals: { ndcg10: 0.42, ingestRatio: 1.5 },
  perQuery,
};
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'knowledge-cranfield.json'), `${JSON.stringify(results, null, 2)}\n`);
