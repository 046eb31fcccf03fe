// Benchmark of KeyvSessionStore.loadSince (the built packages/state-keyv/dist): what a long-lived
// Session's refresh() costs on each driver, against a whole load() of the same session, side by
// side in one run. Build first: `npx turbo run build --filter=@sessions/state-keyv...`, then
// `node bench/state-keyv.mjs` from the repository root (Redis rows need `redis-server` on PATH;
// they are left out without it). Options (env): BENCH_ITERATIONS (samples per row, default 200).
// Prints a table and writes bench/results/state-keyv.json.
//
// Its dependencies are the state-keyv package's own (keyv, @keyv/sqlite, @keyv/redis), resolved
// from that package, and the built packages/testing (its redis-server helper).
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const here = import.meta.dirname;
const pkg = join(here, '..', 'packages', 'state-keyv');
const require = createRequire(join(pkg, 'package.json'));
/** A dependency of the state-keyv package, by its ESM entry (its `exports` `import`). */
async function load(name) {
  const resolved = require.resolve(name);
  const marker = `${join('node_modules', name)}/`;
  const root = resolved.slice(0, resolved.lastIndexOf(marker) + marker.length);
  const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
  let entry = manifest.exports?.['.'] ?? manifest.exports ?? manifest.module ?? manifest.main;
  while (typeof entry === 'object') entry = entry.import ?? entry.default;
  return import(pathToFileURL(join(root, entry)).href);
}
const { KeyvSessionStore } = await import(pathToFileURL(join(pkg, 'dist', 'index.js')).href);
const { default: Keyv } = await load('keyv');
const { default: KeyvSqlite } = await load('@keyv/sqlite');
const { default: KeyvRedis } = await load('@keyv/redis');
const { startRedisServer } = await import(
  pathToFileURL(join(here, '..', 'packages', 'testing', 'dist', 'index.js')).href
);

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 200);
const LONG = 10_000;
const SHORT = 100;
const BLOCK = 10;
const WHOLE = 'load() whole, 10,000 messages';

function message(i) {
  const assistant = i % 2 === 1;
  return {
    id: `msg_${i.toString(36).padStart(8, '0')}${'0'.repeat(16)}`,
    role: assistant ? 'assistant' : 'user',
    content: assistant
      ? `Here is the answer to question ${i}: the efficiency improved by about 40% once the cache was warm, ` +
        'mostly because the index no longer had to be rebuilt on every request. Want the details?'
      : `Question ${i}: why did the service get faster after the last deploy?`,
    createdAt: new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString(),
  };
}

const state = (sessionId) => ({
  schemaVersion: 1,
  sessionId,
  userId: 'u1',
  createdAt: '2025-01-01T00:00:00.000Z',
  updatedAt: '2025-01-01T00:00:00.000Z',
  data: { topic: 'AI' },
  agents: [],
});

function median(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function time(fn) {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function fill(store, sessionId, count) {
  await store.saveState(sessionId, state(sessionId));
  for (let i = 0; i < count; i += 500) {
    await store.append(
      sessionId,
      Array.from({ length: Math.min(500, count - i) }, (_, j) => message(i + j)),
    );
  }
}

/** The rows of one driver: every series runs in interleaved blocks, so drift hits them alike. */
async function measure(driver, keyv) {
  const store = new KeyvSessionStore({ keyv });
  if (store.driver !== driver) throw new Error(`expected the ${driver} driver, got ${store.driver}`);
  await fill(store, 'long', LONG);
  await fill(store, 'short', SHORT);
  const cursors = {};
  for (const id of ['long', 'short']) {
    const { seq, epoch } = await store.loadSince(id);
    cursors[id] = { seq, epoch };
  }
  let n = LONG;
  const series = {
    [WHOLE]: async () => store.load('long'),
    'loadSince, nothing new, 10,000 messages': async () => store.loadSince('long', cursors.long),
    'loadSince, nothing new, 100 messages': async () => store.loadSince('short', cursors.short),
    // Another writer's turn (two messages) since the cursor: the tail reads just those.
    'loadSince, a new turn (2 messages), 10,000+': async (timed) => {
      await store.append('long', [message(n), message(n + 1)]);
      n += 2;
      await timed(() => store.loadSince('long', cursors.long));
      cursors.long.seq += 2;
    },
  };
  const samples = Object.fromEntries(Object.keys(series).map((name) => [name, []]));
  const check = await store.loadSince('long', cursors.long);
  if (check.from !== cursors.long.seq || check.messages.length !== 0) throw new Error('cursor does not hold');
  for (let done = 0; done < ITERATIONS; done += BLOCK) {
    for (const [name, run] of Object.entries(series)) {
      // A whole load takes long: one sample per block (ITERATIONS / 10 in all).
      for (let i = 0; i < (name === WHOLE ? 1 : BLOCK); i++) {
        if (run.length === 1) await run(async (fn) => samples[name].push(await time(fn)));
        else samples[name].push(await time(run));
      }
    }
  }
  await store.close();
  return Object.fromEntries(Object.entries(samples).map(([name, list]) => [name, median(list)]));
}

const base = await mkdtemp(join(tmpdir(), 'bench-state-keyv-'));
const results = {};
let redis;
try {
  const sqlite = new Keyv({ store: new KeyvSqlite({ uri: `sqlite://${join(base, 'sessions.sqlite')}` }) });
  results.sqlite = await measure('sqlite', sqlite);
  await sqlite.disconnect();

  results['generic (in-memory Keyv)'] = await measure('generic', new Keyv());

  try {
    redis = await startRedisServer();
  } catch (error) {
    console.warn(`Redis rows left out: ${error.message}`);
  }
  if (redis) {
    const keyv = new Keyv({ store: new KeyvRedis(redis.url), namespace: 'bench' });
    results.redis = await measure('redis', keyv);
    await keyv.disconnect();
  }
} finally {
  await redis?.stop();
  await rm(base, { recursive: true, force: true });
}

const rows = Object.keys(Object.values(results)[0]);
const drivers = Object.keys(results);
const cell = (ms) => (ms < 1 ? ms.toFixed(3) : ms.toFixed(2));
console.log(`| median ms (${ITERATIONS} samples, ${ITERATIONS / BLOCK} of load) | ${drivers.join(' | ')} |`);
console.log(`| --- | ${drivers.map(() => '---:').join(' | ')} |`);
for (const row of rows) console.log(`| ${row} | ${drivers.map((d) => cell(results[d][row])).join(' | ')} |`);
const whole = WHOLE;
const idle = rows[1];
console.log(
  `\nload() / loadSince with nothing new, 10,000 messages: ${drivers
    .map((d) => `${d} ${(results[d][whole] / results[d][idle]).toFixed(0)}×`)
    .join(', ')}`,
);
await mkdir(join(here, 'results'), { recursive: true });
await writeFile(
  join(here, 'results', 'state-keyv.json'),
  `${JSON.stringify({ node: process.version, iterations: ITERATIONS, results }, null, 2)}\n`,
);
