// Benchmark of @sessions/state-fs (the built dist): run `npx turbo run build --filter=@sessions/state-fs...`
// then `node bench/state-fs.mjs` from the repository root. Options (env): BENCH_DIR (where the
// sessions are written, default the OS temp dir), BENCH_ITERATIONS (append samples, default 1000).
// Prints a table and writes bench/results/state-fs.json. Rows (a)-(c) time lone appends and loads;
// (d) 64 appends in flight at once to one session (written in groups) vs one after another.
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FsSessionStore } from '@sessions/state-fs';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 1000);
const LOAD_ITERATIONS = Math.max(20, Math.round(ITERATIONS / 10));
const BLOCK = 10;
/** Appends in flight at once to one session, for the group-commit rows. */
const IN_FLIGHT = 64;
const GROUP_ROUNDS = Math.max(10, Math.round(ITERATIONS / 50));
const SMALL = 100;
const LARGE = 10_000;
const here = import.meta.dirname;

function message(i) {
  const assistant = i % 2 === 1;
  return {
    id: `msg_${i.toString(36).padStart(8, '0')}${'0'.repeat(16)}`,
    role: assistant ? 'assistant' : 'user',
    content: assistant
      ? `Here is the answer to question ${i}: the efficiency improved by about 40% once the cache was warm, ` +
        'mostly because the index no longer had to be rebuilt on every request. Want the details?'
      : `Question ${i}: why did the service get faster after the last deploy?`,
    ...(assistant ? { name: 'Assistant' } : {}),
    createdAt: new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString(),
    ...(i % 10 === 0 ? { metadata: { tokens: 42 + i, model: 'gpt-4o-mini' } } : {}),
  };
}

function median(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function p95(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))];
}

async function time(fn) {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function fill(store, sessionId, count) {
  for (let i = 0; i < count; i += 500) {
    await store.append(
      sessionId,
      Array.from({ length: Math.min(500, count - i) }, (_, j) => message(i + j)),
    );
  }
}

/** The bytes the store writes for a one-message append (to give the baseline the same work). */
function lineOf(m) {
  return Buffer.from(`${JSON.stringify(m)}\n`);
}

async function bareAppend(file, bytes) {
  const handle = await open(file, 'a');
  try {
    await handle.write(bytes);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

const base = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), 'bench-state-fs-'));
try {
  const root = join(base, 'sessions');
  const store = new FsSessionStore({ root });
  await fill(store, 'small', SMALL);
  await fill(store, 'large', LARGE);
  // The same appends with the lock taken and released every time (no lease between appends).
  const unleased = new FsSessionStore({ root, lockHoldMs: 0 });
  await fill(unleased, 'unleased', SMALL);
  const bareFile = join(base, 'bare.jsonl');
  await writeFile(bareFile, await readFile(join(root, 'large', 'messages.jsonl')));

  // Warm up (JIT, page cache).
  for (let i = 0; i < 20; i++) {
    await store.append('warm', [message(i)]);
    await bareAppend(bareFile, lineOf(message(i)));
  }

  // (a) and (b): appends back to back, in interleaved blocks of BLOCK so that drift (other load
  // on the machine or the disk) hits every series alike.
  const atSmall = [];
  const atLarge = [];
  const bare = [];
  const noLease = [];
  for (let i = 0; i < ITERATIONS; i += BLOCK) {
    const block = Array.from({ length: Math.min(BLOCK, ITERATIONS - i) }, (_, j) => message(LARGE + i + j));
    for (const m of block) atSmall.push(await time(() => store.append('small', [m])));
    for (const m of block) atLarge.push(await time(() => store.append('large', [m])));
    for (const m of block) bare.push(await time(() => bareAppend(bareFile, lineOf(m))));
    for (const m of block) noLease.push(await time(() => unleased.append('unleased', [m])));
  }

  // (d): IN_FLIGHT appends to one session made at once (written in groups: one write and one
  // fdatasync for all that arrived while the previous group was written) vs the same number one
  // after another; per append = the time until all are acknowledged / IN_FLIGHT. Alternating rounds,
  // with a pause between them so that each starts on a released lock (a lease kept for 200 ms is
  // given up for 15 ms, which would otherwise fall on one series more than the other).
  await fill(store, 'together', SMALL);
  await fill(store, 'oneByOne', SMALL);
  const together = [];
  const oneByOne = [];
  let next = LARGE + ITERATIONS;
  for (let round = 0; round < GROUP_ROUNDS; round++) {
    const batch = Array.from({ length: IN_FLIGHT }, () => message(next++));
    const all = await time(() => Promise.all(batch.map((m) => store.append('together', [m]))));
    together.push(all / IN_FLIGHT);
    await sleep(10);
    const each = await time(async () => {
      for (const m of batch) await store.append('oneByOne', [m]);
    });
    oneByOne.push(each / IN_FLIGHT);
    await sleep(10);
  }
  const togetherCount = (await store.load('together')).messages.length;
  if (togetherCount !== SMALL + GROUP_ROUNDS * IN_FLIGHT) throw new Error(`stored ${togetherCount} messages`);

  // First append by a store that has never seen the session: reads the file once.
  const cold = [];
  for (let i = 0; i < 10; i++) {
    const fresh = new FsSessionStore({ root });
    cold.push(await time(() => fresh.append('large', [message(LARGE + ITERATIONS + i)])));
  }

  // (c): restore a 10,000-message session vs JSON.parse of the same messages as one JSON text.
  const restoreStore = new FsSessionStore({ root });
  await fill(restoreStore, 'restore', LARGE);
  const loaded = await restoreStore.load('restore');
  if (loaded.messages.length !== LARGE) throw new Error(`loaded ${loaded.messages.length} messages`);
  const jsonText = JSON.stringify(loaded.messages);
  const jsonFile = join(base, 'messages.json');
  await writeFile(jsonFile, jsonText);
  const load = [];
  const parse = [];
  const readParse = [];
  for (let i = 0; i < LOAD_ITERATIONS; i++) {
    load.push(await time(() => restoreStore.load('restore')));
    parse.push(await time(() => JSON.parse(jsonText)));
    readParse.push(await time(async () => JSON.parse(await readFile(jsonFile, 'utf8'))));
  }

  const rows = [
    { name: `append 1 message, session at ${SMALL}..${SMALL + ITERATIONS} messages`, samples: atSmall },
    { name: `append 1 message, session at ${LARGE}..${LARGE + ITERATIONS} messages`, samples: atLarge },
    { name: 'bare open(a)+write+fdatasync+close, same bytes', samples: bare },
    { name: 'append 1 message with lockHoldMs: 0 (lock taken every time)', samples: noLease },
    { name: `first append of a new store to the ${LARGE}-message session`, samples: cold },
    { name: `load() of a ${LARGE}-message session`, samples: load },
    { name: `JSON.parse of the same ${LARGE} messages (in memory)`, samples: parse },
    { name: 'readFile + JSON.parse of the same messages', samples: readParse },
    { name: `${IN_FLIGHT} appends at once to one session, per append`, samples: together },
    { name: `${IN_FLIGHT} appends one after another to one session, per append`, samples: oneByOne },
  ].map((row) => ({
    name: row.name,
    n: row.samples.length,
    medianMs: median(row.samples),
    p95Ms: p95(row.samples),
  }));

  const ratio = (a, b) => rows[a].medianMs / rows[b].medianMs;
  const goals = [
    { goal: `(a) append at ${LARGE} vs at ${SMALL}`, ratio: ratio(1, 0), target: 1.3 },
    { goal: '(b) durable append vs bare append+fdatasync', ratio: ratio(0, 2), target: 1.5 },
    { goal: '(b) same, lockHoldMs: 0 (no goal: for comparison)', ratio: ratio(3, 2) },
    { goal: `(c) load ${LARGE} vs JSON.parse of the same messages`, ratio: ratio(5, 6), target: 2 },
    { goal: '(c) same, vs readFile + JSON.parse (no goal)', ratio: ratio(5, 7) },
    {
      goal: `(d) ${IN_FLIGHT} appends at once vs one after another, per append`,
      ratio: ratio(8, 9),
      target: 0.5,
    },
  ].map((g) => ({ ...g, met: g.target === undefined ? undefined : g.ratio <= g.target }));

  console.log(`\n@sessions/state-fs — node ${process.version}, ${process.platform}, dir ${base}\n`);
  console.table(
    Object.fromEntries(
      rows.map((r) => [r.name, { n: r.n, 'median ms': r.medianMs.toFixed(3), 'p95 ms': r.p95Ms.toFixed(3) }]),
    ),
  );
  console.table(
    Object.fromEntries(
      goals.map((g) => [
        g.goal,
        {
          ratio: `${g.ratio.toFixed(2)}×`,
          goal: g.target === undefined ? '' : `≤ ${g.target}×`,
          met: g.met === undefined ? '' : g.met ? 'yes' : 'NO',
        },
      ]),
    ),
  );

  const resultsDir = join(here, 'results');
  await mkdir(resultsDir, { recursive: true });
  const out = {
    bench: 'state-fs',
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    iterations: ITERATIONS,
    loadIterations: LOAD_ITERATIONS,
    inFlight: IN_FLIGHT,
    groupRounds: GROUP_ROUNDS,
    rows,
    goals,
  };
  await writeFile(join(resultsDir, 'state-fs.json'), `${JSON.stringify(out, null, 2)}\n`);
  console.log(`\nwrote ${join(resultsDir, 'state-fs.json')}`);
} finally {
  await rm(base, { recursive: true, force: true });
}
