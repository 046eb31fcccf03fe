#!/usr/bin/env node
// CPU per request of remote-agent rows, in-process: each row's server and a raw keep-alive HTTP
// client (64 connections) in one child process, rows (and trees) alternating, medians. Steadier
// than autocannon's req/s on a shared machine, for telling a change of a few µs from the noise:
// the client's cost is the same in every row, so differences between rows are the servers'.
//
//   npx turbo run build --filter=@sessions/bench...
//   node bench/remote-agent-ab.mjs [--only bare,full-64] [--requests 40000] [--rounds 5]
//   node bench/remote-agent-ab.mjs --trees /path/to/before,/path/to/after --only full-64-keyed
//
// `--trees`: clones of this repository, each built; every row runs from each tree in turn (the
// tree's own bench script and packages), so a change is measured against its parent side by side.
import { execFile } from 'node:child_process';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CONFIGS, startKind, TOKEN } from './remote-agent-servers.mjs';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1] : fallback;
};
const CONNECTIONS = 64;

/** The bytes of request `i` of connection `c` for `config` (as remote-agent.mjs sends them). */
function requestOf(config, port, c, i) {
  const session = config.turnsPerSession
    ? `ab-${c}-${Math.floor(i / config.turnsPerSession)}`
    : config.sessions > 0
      ? `ab-${c % config.sessions}`
      : undefined;
  const body = JSON.stringify({
    message: 'Hello, what can you do?',
    ...(session && { session_id: session }),
  });
  const key = config.keyed ? `idempotency-key: ab-${c}-${i}\r\n` : '';
  return (
    `POST /agent HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\n` +
    `authorization: Bearer ${TOKEN}\r\n${key}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** Sends `count` requests over 64 kept-alive connections, each waiting for its answer. */
async function drive(config, port, count, from) {
  let left = count;
  await Promise.all(
    Array.from(
      { length: CONNECTIONS },
      (_, c) =>
        new Promise((resolve, reject) => {
          const socket = net.connect(port, '127.0.0.1');
          let sent = from;
          let received = '';
          const next = () => {
            if (left-- <= 0) {
              socket.end();
              resolve();
              return;
            }
            received = '';
            socket.write(requestOf(config, port, c, sent++));
          };
          socket.setEncoding('latin1');
          socket.on('data', (chunk) => {
            received += chunk;
            const head = received.indexOf('\r\n\r\n');
            if (head < 0) return;
            if (!received.startsWith('HTTP/1.1 200')) {
              reject(new Error(`${config.id}: ${received.slice(0, 200)}`));
              return;
            }
            const length = /content-length: (\d+)/i.exec(received.slice(0, head));
            if (length && received.length >= head + 4 + Number(length[1])) next();
          });
          socket.on('error', reject);
          socket.on('connect', next);
        }),
    ),
  );
}

/** In a child: one row, a tenth of the requests to warm up, then CPU µs per request of the rest. */
async function measure(id, requests) {
  const config = CONFIGS.find((c) => c.id === id);
  if (!config || config.kind === 'fs')
    throw new Error(`--drive takes a MemorySessionStore row id, not ${id}`);
  const { port, close } = await startKind(config.kind);
  const warm = Math.ceil(requests / 10);
  await drive(config, port, warm, 0);
  const start = process.cpuUsage();
  await drive(config, port, requests, warm);
  const cpu = process.cpuUsage(start);
  await close();
  console.log(JSON.stringify({ cpuMicrosPerRequest: (cpu.user + cpu.system) / requests }));
  process.exit(0);
}

async function main() {
  const requests = Number(flag('requests', '40000'));
  const rounds = Number(flag('rounds', '5'));
  const ids = flag('only', 'bare,core-kept-nosignal,full-64,full-64-keyed').split(',');
  const here = dirname(fileURLToPath(import.meta.url));
  const trees = flag('trees', undefined)?.split(',') ?? [join(here, '..')];
  const runs = new Map();
  for (let round = 0; round < rounds; round++) {
    for (const id of ids) {
      for (const tree of trees) {
        const script = join(tree, 'bench', 'remote-agent-ab.mjs');
        const { stdout } = await promisify(execFile)(
          process.execPath,
          [script, '--drive', id, '--requests', String(requests)],
          {
            maxBuffer: 1 << 20,
          },
        );
        const label = trees.length > 1 ? `${id} @ ${tree}` : id;
        if (!runs.has(label)) runs.set(label, []);
        runs.get(label).push(JSON.parse(stdout.trim().split('\n').at(-1)).cpuMicrosPerRequest);
        process.stderr.write(`round ${round + 1}/${rounds}: ${label}\n`);
      }
    }
  }
  console.log(
    `in-process CPU µs per request (server and client), ${requests} requests, median of ${rounds} rounds`,
  );
  console.log('| row | median | runs |');
  console.log('|---|---:|---|');
  for (const [label, values] of runs) {
    const sorted = [...values].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    console.log(`| ${label} | ${median.toFixed(1)} | ${values.map((v) => v.toFixed(0)).join(' ')} |`);
  }
}

if (args.includes('--drive')) await measure(flag('drive'), Number(flag('requests', '40000')));
else await main();
