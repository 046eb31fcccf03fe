// @sessions/memory on LoCoMo, through the public API: every turn of a conversation added with
// `Memory.add` (its dia_id and speaker in metadata, the session's date as createdAt), every
// question of categories 1-4 searched with limit 10; recall@10 = share of its evidence turns found.
// Same-run baselines: MiniSearch defaults and MiniSearch with stemming and stop words, over
// `speaker: text` (the dataset README's protocol). Then speed over 10,000 memories.
//
//   npx turbo run build --filter=@sessions/memory...
//   node bench/memory-locomo.mjs --data /work/shared/datasets
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Memory } from '@sessions/memory';
import {
  fmt,
  loadCranfield,
  loadLocomo,
  mean,
  miniSearchVariants,
  newMiniSearch,
  parseArgs,
  percentile,
  printTable,
  recall,
  writeResults,
} from './lib-search.mjs';

const args = parseArgs();
const conversations = loadLocomo(args.data);
const TUNE = new Set(['26', '30']);
const MONTHS = 'january february march april may june july august september october november december'.split(
  ' ',
);

/** "1:56 pm on 8 May, 2023" → a Date (UTC). */
function sessionDate(text) {
  const match = /(\d{1,2}):(\d{2})\s*(am|pm)\s+on\s+(\d{1,2})\s+([A-Za-z]+),?\s+(\d{4})/i.exec(text);
  if (!match) return undefined;
  const [, h, m, half, day, month, year] = match;
  const hour = (Number(h) % 12) + (half.toLowerCase() === 'pm' ? 12 : 0);
  return new Date(Date.UTC(Number(year), MONTHS.indexOf(month.toLowerCase()), Number(day), hour, Number(m)));
}

// ---- quality --------------------------------------------------------------------------------

const rows = [];
const results = { quality: {}, speed: {} };
const systems = [
  ...['MiniSearch defaults', 'MiniSearch + stemming + stop words'].map((name) => ({
    name,
    run: async (conversation) => {
      const mini = newMiniSearch(['text'], miniSearchVariants[name]);
      mini.addAll(conversation.turns.map((t) => ({ id: t.id, text: `${t.speaker}: ${t.text}` })));
      return (question) =>
        mini
          .search(question)
          .slice(0, 10)
          .map((hit) => hit.id);
    },
  })),
  {
    name: '@sessions/memory (Memory.add, no embedder)',
    run: async (conversation) => {
      const memory = new Memory();
      const scope = { userId: `conversation-${conversation.name}` };
      for (const turn of conversation.turns) {
        await memory.add(
          {
            text: turn.text,
            metadata: { dia_id: turn.id, speaker: turn.speaker },
            createdAt: sessionDate(turn.date),
          },
          scope,
        );
      }
      return async (question) =>
        (await memory.search(question, { limit: 10, scope })).map((hit) => hit.metadata.dia_id);
    },
  },
];

for (const system of systems) {
  const all = [];
  const split = { tune: [], heldOut: [] };
  const byCategory = { 1: [], 2: [], 3: [], 4: [] };
  for (const conversation of conversations) {
    const search = await system.run(conversation);
    for (const q of conversation.questions) {
      const r = recall(await search(q.question), q.evidence);
      all.push(r);
      byCategory[q.category].push(r);
      split[TUNE.has(conversation.name) ? 'tune' : 'heldOut'].push(r);
    }
  }
  results.quality[system.name] = {
    recallAt10: mean(all),
    tune: mean(split.tune),
    heldOut: mean(split.heldOut),
    byCategory: Object.fromEntries(Object.entries(byCategory).map(([c, v]) => [c, mean(v)])),
  };
  rows.push({
    system: system.name,
    'recall@10': fmt(mean(all)),
    'tune (26, 30)': fmt(mean(split.tune)),
    'held out (41-43)': fmt(mean(split.heldOut)),
    ...Object.fromEntries(Object.entries(byCategory).map(([c, v]) => [`cat ${c}`, fmt(mean(v))])),
  });
}
const questions = conversations.reduce((n, c) => n + c.questions.length, 0);
printTable(`LoCoMo recall@10 through Memory.add: ${questions} questions (categories 1-4)`, rows);

// ---- speed over 10,000 memories ---------------------------------------------------------------

const texts = [];
for (const conversation of conversations) for (const turn of conversation.turns) texts.push(turn.text);
for (const doc of loadCranfield(args.data).docs) {
  for (const sentence of doc.text.split(/(?<=\.)\s+/)) {
    if (texts.length >= 10_000) break;
    if (sentence.trim().length > 20) texts.push(sentence.trim());
  }
}
texts.length = Math.min(texts.length, 10_000);
const queries = conversations.flatMap((c) => c.questions.map((q) => q.question));
const scope = { userId: 'bench' };

const build = async () => {
  const memory = new Memory();
  await memory.addMany(texts, scope);
  return memory;
};
const memory = await build();
const mini = newMiniSearch(['text'], miniSearchVariants['MiniSearch + stemming + stop words']);
mini.addAll(texts.map((text, id) => ({ id, text })));

const ours = [];
const theirs = [];
for (let round = 0; round < 3; round += 1) {
  for (const query of queries) {
    let start = performance.now();
    await memory.search(query, { limit: 10, scope });
    ours.push(performance.now() - start);
    start = performance.now();
    mini.search(query).slice(0, 10);
    theirs.push(performance.now() - start);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'bench-memory-'));
const persisted = new Memory({ path: dir });
await persisted.addMany(texts, scope);
await persisted.close();
const loads = [];
const builds = [];
for (let i = 0; i < 5; i += 1) {
  let start = performance.now();
  const loaded = new Memory({ path: dir });
  await loaded.search('warm up the index', { scope });
  loads.push(performance.now() - start);
  await loaded.keyv.disconnect();
  start = performance.now();
  const built = await build();
  await built.search('warm up the index', { scope });
  builds.push(performance.now() - start);
}
rmSync(dir, { recursive: true, force: true });

const p50 = (values) => percentile(values, 50);
results.speed = {
  memories: texts.length,
  queries: queries.length * 3,
  searchP50Ms: p50(ours),
  miniSearchP50Ms: p50(theirs),
  searchRatio: p50(ours) / p50(theirs),
  loadPersistedMs: p50(loads),
  buildFromScratchMs: p50(builds),
  loadRatio: p50(loads) / p50(builds),
};
printTable(`Memory speed over ${texts.length} memories`, [
  { measure: 'search p50, Memory.search (limit 10, scoped)', ms: fmt(p50(ours)) },
  { measure: 'search p50, MiniSearch + stemming (same texts)', ms: fmt(p50(theirs)) },
  { measure: 'ratio (goal ≤ 1.0×)', ms: `${fmt(results.speed.searchRatio, 2)}×` },
  { measure: 'load a persisted store (SQLite, index snapshot) to first search', ms: fmt(p50(loads)) },
  { measure: 'build it from scratch (addMany in memory) to first search', ms: fmt(p50(builds)) },
  { measure: 'ratio load / build', ms: `${fmt(results.speed.loadRatio, 2)}×` },
]);
writeResults('memory-locomo', args, results);
