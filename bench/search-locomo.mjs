// LoCoMo memory recall@10: every turn of a conversation is one document (its dia_id kept), every
// question of categories 1-4 is searched, recall@10 = share of its evidence turns in the top 10.
// Parameters were tuned on conversations 26 and 30 only; 41, 42 and 43 are held out.
//
//   npx turbo run build --filter=@sessions/search
//   node bench/search-locomo.mjs --data /work/shared/datasets
import { SearchIndex } from '@sessions/search';
import {
  fmt,
  loadLocomo,
  mean,
  miniSearchVariants,
  newMiniSearch,
  parseArgs,
  printTable,
  recall,
  writeResults,
} from './lib-search.mjs';

const args = parseArgs();
const TUNE = new Set(['26', '30']);
const conversations = loadLocomo(args.data);

/**
 * Documents as the engines see them. "plain": one text field `speaker: text`, as the dataset's
 * baselines were measured. "fields": speaker, text and the session's date as fields. "context":
 * also the previous turn of the same session, as a low-weight field (a question's answer is often a
 * reply whose words are in the question it replies to). "memory": what a memory store can index
 * without knowing the speaker as a field: `speaker: text`, the date, the previous turn as context.
 */
function documents(conversation, shape) {
  return conversation.turns.map((turn, i) => {
    const previous =
      conversation.turns[i - 1]?.session === turn.session ? conversation.turns[i - 1] : undefined;
    if (shape === 'plain') return { id: turn.id, text: `${turn.speaker}: ${turn.text}` };
    if (shape === 'memory') {
      return {
        id: turn.id,
        text: `${turn.speaker}: ${turn.text}`,
        date: turn.date,
        context: previous ? `${previous.speaker}: ${previous.text}` : '',
      };
    }
    const doc = { id: turn.id, text: turn.text, speaker: turn.speaker, date: turn.date };
    if (shape === 'context') doc.context = previous ? previous.text : '';
    return doc;
  });
}

const OURS_FIELDS = { text: 1, speaker: 2, date: 1 };
const engines = [
  ...Object.entries(miniSearchVariants).map(([name, variant]) => ({
    name,
    shape: 'plain',
    make: () => newMiniSearch(['text'], variant),
    search: (index, q) => index.search(q).slice(0, 10),
  })),
  {
    name: 'MiniSearch + stemming + stop words, same fields as ours + context',
    shape: 'context',
    make: () =>
      newMiniSearch(['text', 'speaker', 'date', 'context'], {
        ...miniSearchVariants['MiniSearch + stemming + stop words'],
        searchOptions: { boost: { ...OURS_FIELDS, context: 0.2 } },
      }),
    search: (index, q) => index.search(q).slice(0, 10),
  },
  {
    name: '@sessions/search, plain text (same input as the baselines)',
    shape: 'plain',
    make: () => new SearchIndex(),
  },
  {
    name: '@sessions/search, fields speaker/text/date',
    shape: 'fields',
    make: () => new SearchIndex({ fields: OURS_FIELDS }),
  },
  {
    name: '@sessions/search, fields + context (headline)',
    shape: 'context',
    make: () => new SearchIndex({ fields: { ...OURS_FIELDS, context: 0.2 } }),
  },
  {
    name: '@sessions/search, memory-like: `speaker: text` + date + previous turn',
    shape: 'memory',
    make: () => new SearchIndex({ fields: { text: 1, date: 1, context: 0.2 } }),
  },
  {
    name: '  ablation: headline without feedback (RM3)',
    shape: 'context',
    make: () => new SearchIndex({ fields: { ...OURS_FIELDS, context: 0.2 }, feedback: false }),
  },
  {
    name: '  ablation: headline without word pairs',
    shape: 'context',
    make: () => new SearchIndex({ fields: { ...OURS_FIELDS, context: 0.2 }, phrases: false }),
  },
];

const results = {};
const rows = [];
for (const engine of engines) {
  const perConversation = {};
  const perCategory = {};
  const split = { tune: [], heldOut: [] };
  for (const conversation of conversations) {
    const index = engine.make();
    index.addAll(documents(conversation, engine.shape));
    const recalls = conversation.questions.map((q) => {
      const hits = engine.search ? engine.search(index, q.question) : index.search(q.question, { limit: 10 });
      const r = recall(
        hits.map((h) => h.id),
        q.evidence,
      );
      perCategory[q.category] = [...(perCategory[q.category] ?? []), r];
      return r;
    });
    perConversation[conversation.name] = mean(recalls);
    split[TUNE.has(conversation.name) ? 'tune' : 'heldOut'].push(...recalls);
  }
  const all = [...split.tune, ...split.heldOut];
  results[engine.name.trim()] = {
    recallAt10: mean(all),
    tune: mean(split.tune),
    heldOut: mean(split.heldOut),
    perConversation,
    perCategory: Object.fromEntries(Object.entries(perCategory).map(([c, v]) => [c, mean(v)])),
  };
  rows.push({
    engine: engine.name,
    'recall@10 all': fmt(mean(all)),
    'tune (26, 30)': fmt(mean(split.tune)),
    'held out (41-43)': fmt(mean(split.heldOut)),
    'cat 1 multi-hop': fmt(mean(perCategory[1])),
    'cat 2 temporal': fmt(mean(perCategory[2])),
    'cat 3 open': fmt(mean(perCategory[3])),
    'cat 4 single-hop': fmt(mean(perCategory[4])),
  });
}

const questions = conversations.reduce((n, c) => n + c.questions.length, 0);
printTable(
  `LoCoMo recall@10: ${conversations.length} conversations, ${questions} questions (categories 1-4)`,
  rows,
);
writeResults('search-locomo', args, { questions, tuneConversations: [...TUNE], engines: results });
