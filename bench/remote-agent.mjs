#!/usr/bin/env node
// POST /agent throughput and latency at 64 connections: @sessions/remote-server (auth, validation,
// middleware, history, an instant in-process model) against a bare Hono route that answers the
// same JSON, measured with autocannon in one run, round by round, each server in its own process.
// Then the same load on FsSessionStore (durable), 64 sessions and 1 session.
//
//   npx turbo run build --filter=@sessions/bench...     (builds the packages it imports)
//   node bench/remote-agent.mjs [--duration 10] [--rounds 3] [--connections 64] [--only fs|id,id...]
//
// Prints a table and writes bench/results/remote-agent.json.
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIGS, startKind, TOKEN } from './remote-agent-servers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1] : fallback;
};

// ---- a server, one per child process ---------------------------------------------------------

async function serveChild(kind, root) {
  const { server, port, close } = await startKind(kind, root);
  let served = 0;
  let cpuStart = process.cpuUsage();
  server.on('request', () => {
    served += 1;
  });
  process.on('message', async (message) => {
    if (message === 'start') {
      served = 0;
      cpuStart = process.cpuUsage();
    } else if (message === 'stop') {
      const cpu = process.cpuUsage(cpuStart);
      const per = Math.max(1, served);
      process.send({
        cpuMicrosPerRequest: (cpu.user + cpu.system) / per,
        userMicrosPerRequest: cpu.user / per,
        systemMicrosPerRequest: cpu.system / per,
        served,
      });
      server.closeAllConnections?.();
      await close();
      process.exit(0);
    }
  });
  process.send({ port });
}

// ---- the load ---------------------------------------------------------------------------------

async function startServer(kind, root) {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', kind, ...(root ? ['--root', root] : [])], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise((resolve, reject) => {
    child.once('message', (message) => resolve(message.port));
    child.once('exit', (code) => reject(new Error(`server ${kind} exited with ${code}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    start: () => child.send('start'),
    /** Stops the server; resolves to its report (CPU time per request served since `start`). */
    stop: () =>
      new Promise((resolve) => {
        let report;
        child.on('message', (message) => {
          report = message;
        });
        child.once('exit', () => resolve(report));
        child.send('stop');
      }),
  };
}

/** One autocannon run against `url`, after a short warm-up. */
async function load(url, { connections, duration, sessions, turnsPerSession, keyed, label }) {
  const { default: autocannon } = await import('autocannon');
  let next = 0;
  const options = (seconds) => ({
    url: `${url}/agent`,
    connections,
    duration: seconds,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    setupClient: (client) => {
      const id = next++;
      if (turnsPerSession || keyed) {
        // Requests made here, before the run (autocannon's per-request `setupRequest` changes how
        // requests reach the server and costs it ~75 µs more each): short sessions move on to a
        // new session id every `turnsPerSession` requests; keyed ones send a new key each.
        const session = turnsPerSession
          ? (i) => `bench-${label}-${id}-${Math.floor(i / turnsPerSession)}`
          : () => `bench-${label}-${id % sessions}`;
        const requests = Array.from({ length: 3_000 }, (_, i) => ({
          method: 'POST',
          ...(keyed && {
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${TOKEN}`,
              'idempotency-key': `${label}-${id}-${i}`,
            },
          }),
          body: `{"message":"Hello, what can you do?","session_id":"${session(i)}"}`,
        }));
        client.setRequests(requests);
        return;
      }
      const body = { message: 'Hello, what can you do?' };
      if (sessions > 0) body.session_id = `bench-${label}-${id % sessions}`;
      client.setBody(JSON.stringify(body));
    },
  });
  await autocannon(options(1));
  return async (start) => {
    start();
    const result = await autocannon(options(duration));
    if (result.non2xx > 0 || result.errors > 0) {
      throw new Error(`${label}: ${result.non2xx} non-2xx answers and ${result.errors} errors`);
    }
    return {
      rps: result.requests.average,
      p50: result.latency.p50,
      p99: result.latency.p99,
      requests: result.requests.total,
    };
  };
}

async function runOnce(config, base, round) {
  const root = config.kind === 'fs' ? mkdtempSync(join(tmpdir(), 'bench-remote-fs-')) : undefined;
  const server = await startServer(config.kind, root);
  let run;
  try {
    const measure = await load(server.url, {
      ...base,
      sessions: config.sessions,
      turnsPerSession: config.turnsPerSession,
      keyed: config.keyed,
      label: `${config.id}-${round}`,
    });
    run = await measure(server.start);
  } finally {
    const report = await server.stop();
    if (run && report) {
      run.cpuMicros = Math.round(report.cpuMicrosPerRequest);
      // The split: a server that answers more slowly also pays more system time per request.
      run.userMicros = Math.round(report.userMicrosPerRequest);
      run.systemMicros = Math.round(report.systemMicrosPerRequest);
    }
    if (root) rmSync(root, { recursive: true, force: true });
  }
  return run;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function summarise(runs) {
  return {
    rps: Math.round(median(runs.map((r) => r.rps))),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    cpuMicros: median(runs.map((r) => r.cpuMicros)),
    systemMicros: median(runs.map((r) => r.systemMicros)),
    runs,
  };
}

async function main() {
  const duration = Number(flag('duration', '10'));
  const rounds = Number(flag('rounds', '3'));
  const connections = Number(flag('connections', '64'));
  const only = flag('only', undefined);
  const base = { connections, duration };
  // --only fs, or --only full-64,full-short: the rows of a group or of those ids (and the bare route).
  const picked = only?.split(',');
  const configs = CONFIGS.filter(
    (c) => !picked || picked.includes(c.group) || picked.includes(c.id) || c.id === 'bare',
  );
  const runs = new Map(configs.map((c) => [c.id, []]));
  const load0 = loadavg()[0];
  // Round by round, every configuration once: the ratios compare neighbouring minutes.
  for (let round = 0; round < rounds; round++) {
    for (const config of configs) {
      process.stderr.write(`round ${round + 1}/${rounds}: ${config.name}\n`);
      runs.get(config.id).push(await runOnce(config, base, round));
    }
  }
  const bare = summarise(runs.get('bare'));
  const rows = configs.map((config) => {
    const result = summarise(runs.get(config.id));
    return {
      id: config.id,
      name: config.name,
      ...result,
      ratio: result.rps / bare.rps,
      cpuRatio: bare.cpuMicros / result.cpuMicros,
    };
  });

  console.log(
    `POST /agent, ${connections} connections, ${duration} s per run, median of ${rounds} rounds, ` +
      `${availableParallelism()} CPUs, load average ${load0.toFixed(1)} at the start`,
  );
  console.log(
    '| server | req/s | × bare | p50 ms | p99 ms | server CPU µs/req | of which system | × bare by CPU |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) {
    console.log(
      `| ${row.name} | ${row.rps} | ${row.ratio.toFixed(2)} | ${row.p50} | ${row.p99} | ${row.cpuMicros} | ${row.systemMicros} | ${row.cpuRatio.toFixed(2)} |`,
    );
  }
  const results = join(here, 'results');
  mkdirSync(results, { recursive: true });
  const file = join(results, 'remote-agent.json');
  const report = {
    benchmark: 'remote-agent',
    date: new Date().toISOString(),
    node: process.version,
    cpus: availableParallelism(),
    loadAverageAtStart: load0,
    connections,
    durationSeconds: duration,
    rounds,
    rows,
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${file}`);
}

if (args.includes('--serve')) await serveChild(flag('serve'), flag('root'));
else await main();
