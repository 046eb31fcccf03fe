// Cranfield nDCG@10: every document added with its title and text, every judged query searched,
// gain 2^grade - 1. The two halves (queries at even / odd positions) show how much the number moves
// with the sample: the real measurement is on held-out queries of the same kind.
//
//   npx turbo run build --filter=@sessions/search
//   node bench/search-cranfield.mjs --data /work/shared/datasets
import { SearchIndex } from '@sessions/search';
import {
  fmt,
  loadCranfield,
  mean,
  miniSearchVariants,
  ndcg,
  newMiniSearch,
  parseArgs,
  printTable,
  writeResults,
} from './lib-search.mjs';

const args = parseArgs();
const { docs, queries, qrels } = loadCranfield(args.data);

const engines = [
  ...Object.entries(miniSearchVariants).map(([name, variant]) => ({
    name,
    make: () => newMiniSearch(['title', 'text'], variant),
    search: (index, q) => index.search(q).slice(0, 10),
  })),
  {
    name: '@sessions/search (title 2, text 1; defaults)',
    make: () => new SearchIndex({ fields: { title: 2, text: 1 } }),
  },
  { name: '@sessions/search (title 1, text 1)', make: () => new SearchIndex({ fields: ['title', 'text'] }) },
  {
    name: '  ablation: without feedback (RM3)',
    make: () => new SearchIndex({ fields: { title: 2, text: 1 }, feedback: false }),
  },
  {
    name: '  ablation: without word pairs',
    make: () => new SearchIndex({ fields: { title: 2, text: 1 }, phrases: false }),
  },
  {
    name: '  ablation: without both (plain BM25F)',
    make: () => new SearchIndex({ fields: { title: 2, text: 1 }, phrases: false, feedback: false }),
  },
];

const results = {};
const rows = [];
for (const engine of engines) {
  const index = engine.make();
  index.addAll(docs);
  const scores = queries.map((q) => {
    const hits = engine.search ? engine.search(index, q.text) : index.search(q.text, { limit: 10 });
    return ndcg(
      hits.map((h) => h.id),
      qrels.get(q.id),
    );
  });
  const even = mean(scores.filter((_, i) => i % 2 === 0));
  const odd = mean(scores.filter((_, i) => i % 2 === 1));
  results[engine.name.trim()] = { ndcgAt10: mean(scores), evenQueries: even, oddQueries: odd };
  rows.push({
    engine: engine.name,
    'nDCG@10': fmt(mean(scores)),
    'even queries': fmt(even),
    'odd queries': fmt(odd),
  });
}

printTable(`Cranfield nDCG@10: ${docs.length} documents, ${queries.length} judged queries`, rows);
writeResults('search-cranfield', args, { documents: docs.length, queries: queries.length, engines: results });
