import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';

/** A `redis-server` started by `startRedisServer()`, on 127.0.0.1. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  port: number;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. */
  stop(): Promise<void>;
}

export interface RedisServerOptions {
  /** The `redis-server` executable. Default `redis-server` (from PATH). */
  command?: string;
  /** How long to wait for the server to answer PING. Default 10 000 ms. */
  startTimeoutMs?: number;
}

const INSTALL_HINT =
  'Install it: `apt-get install -y redis-server` on Debian/Ubuntu, `brew install redis` on macOS (CI installs it in .ci/run).';

/** A free TCP port on 127.0.0.1: bind port 0, read the port, close. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('Could not find a free port');
  return address.port;
}

/** Sends PING on a fresh connection; resolves whether the server answered `+PONG`. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let answer = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString('utf8');
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
  });
}

async function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await once(child, 'exit');
}

/**
 * Starts a throwaway `redis-server` on a free loopback port, with no persistence
 * (`--save '' --appendonly no`), and resolves once it answers PING. Throws a clear error when
 * `redis-server` is not installed.
 *
 * ```ts
 * const redis = await startRedisServer();
 * const keyv = new Keyv(new KeyvRedis(redis.url));
 * // ...
 * await redis.stop();
 * ```
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const command = options.command ?? 'redis-server';
  const timeoutMs = options.startTimeoutMs ?? 10_000;
  const port = await freePort();
  const child = spawn(
    command,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-4_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let spawnError: NodeJS.ErrnoException | undefined;
  child.on('error', (error) => {
    spawnError = error;
  });

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null || spawnError) return;
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.kill('SIGTERM');
    await waitExit(child);
    clearTimeout(killer);
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (spawnError) {
      if (spawnError.code === 'ENOENT') {
        throw new Error(`\`${command}\` is not installed, so the Redis tests cannot run. ${INSTALL_HINT}`);
      }
      throw new Error(`Could not start \`${command}\`: ${spawnError.message}`, { cause: spawnError });
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `\`${command}\` exited (${child.exitCode ?? child.signalCode}) before answering PING:\n${output}`,
      );
    }
    if (await ping(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `\`${command}\` did not answer PING on port ${port} within ${timeoutMs} ms:\n${output}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url: `redis://127.0.0.1:${port}`, port, stop };
}
