// Shared helpers of the search benchmarks: arguments, dataset loaders, metrics, tables, results.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import MiniSearch from 'minisearch';
import { stemmer } from 'stemmer';
import { eng } from 'stopword';

/** `--data DIR` (required) and other `--name value` flags. */
export function parseArgs(argv = process.argv.slice(2)) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (!flag.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) args[flag.slice(2)] = true;
    else args[flag.slice(2)] = argv[++i];
  }
  if (typeof args.data !== 'string') {
    console.error('usage: node bench/<script>.mjs --data /work/shared/datasets [--out bench/results]');
    process.exit(2);
  }
  args.data = resolve(args.data);
  return args;
}

/** The LoCoMo conversations: turns (one document each) and questions of categories 1-4. */
export function loadLocomo(dataDir) {
  const dir = join(dataDir, 'locomo');
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => {
      const raw = JSON.parse(readFileSync(join(dir, name), 'utf8'));
      const turns = [];
      for (const key of Object.keys(raw)) {
        const match = /^session_(\d+)$/.exec(key);
        if (!match) continue;
        const date = raw[`${key}_date_time`] ?? '';
        for (const turn of raw[key]) {
          turns.push({
            id: turn.dia_id,
            speaker: turn.speaker,
            text: turn.text,
            caption: turn.blip_caption ?? '',
            date,
            session: Number(match[1]),
          });
        }
      }
      // Questions with no evidence cannot be scored; "D8:6; D9:17" is two ids.
      const questions = raw.qa
        .filter((q) => [1, 2, 3, 4].includes(q.category))
        .map((q) => ({
          question: q.question,
          category: q.category,
          evidence: q.evidence.flatMap((e) => e.split(/[;,\s]+/)).filter(Boolean),
        }))
        .filter((q) => q.evidence.length > 0);
      return { name: name.replace(/\.json$/, ''), turns, questions };
    });
}

/** The Cranfield collection: documents, queries and graded judgements. */
export function loadCranfield(dataDir) {
  const dir = join(dataDir, 'cranfield');
  const jsonl = (file) =>
    readFileSync(join(dir, file), 'utf8')
      .split('\n')
      .filter((line) => line.trim())
      .map((line) => JSON.parse(line));
  const docs = jsonl('corpus.jsonl').map((d) => ({
    id: String(d._id),
    title: d.title ?? '',
    text: d.text ?? '',
  }));
  const qrels = new Map();
  for (const line of readFileSync(join(dir, 'qrels.tsv'), 'utf8').split('\n').slice(1)) {
    const [query, doc, score] = line.trim().split('\t');
    if (!query) continue;
    if (!qrels.has(query)) qrels.set(query, new Map());
    qrels.get(query).set(doc, Number(score));
  }
  const queries = jsonl('queries.jsonl')
    .map((q) => ({ id: String(q._id), text: q.text }))
    .filter((q) => qrels.has(q.id));
  return { docs, queries, qrels };
}

/** Share of `evidence` found in `ids` (the top results). */
export function recall(ids, evidence) {
  const found = new Set(ids);
  return evidence.filter((e) => found.has(e)).length / evidence.length;
}

/** nDCG@k with gain 2^grade − 1 and log2 discount; the ideal ranking comes from all judgements. */
export function ndcg(ids, judged, k = 10) {
  let dcg = 0;
  ids.slice(0, k).forEach((id, i) => {
    const grade = judged.get(id) ?? 0;
    dcg += (2 ** grade - 1) / Math.log2(i + 2);
  });
  const ideal = [...judged.values()].sort((a, b) => b - a).slice(0, k);
  let idcg = 0;
  ideal.forEach((grade, i) => {
    idcg += (2 ** grade - 1) / Math.log2(i + 2);
  });
  return idcg > 0 ? dcg / idcg : 0;
}

export const mean = (values) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0);

export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const stopWords = new Set(eng);

/** The same-run baselines: MiniSearch 7.2 with its defaults, and with Porter stemming + stop words. */
export const miniSearchVariants = {
  'MiniSearch defaults': {},
  'MiniSearch + stemming + stop words': {
    processTerm: (term) => {
      const lower = term.toLowerCase();
      return stopWords.has(lower) ? null : stemmer(lower);
    },
  },
};

export function newMiniSearch(fields, variant) {
  return new MiniSearch({ fields, storeFields: [], ...variant });
}

/** Prints rows (objects) as an aligned text table. */
export function printTable(title, rows) {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]);
  const cells = rows.map((row) => columns.map((c) => String(row[c] ?? '')));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (values) => `| ${values.map((v, i) => v.padEnd(widths[i])).join(' | ')} |`;
  console.log(`\n${title}\n`);
  console.log(line(columns));
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  for (const row of cells) console.log(line(row));
}

const benchDir = dirname(fileURLToPath(import.meta.url));

/** Writes `bench/results/<name>.json` (or into `--out`). */
export function writeResults(name, args, results) {
  const dir = typeof args.out === 'string' ? resolve(args.out) : join(benchDir, 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  const body = { benchmark: name, date: new Date().toISOString(), node: process.version, ...results };
  writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
}

export const fmt = (value, digits = 3) => value.toFixed(digits);
