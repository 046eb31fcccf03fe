import { type ChildProcess, type ChildProcessByStdio, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

/** The built server command (`pnpm exec turbo run build --filter=@sessions/server...` first). */
export const SERVER_BIN: string = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

/** The environment without anything that would pick a model or change defaults. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('OPENAI_') && !key.startsWith('SESSIONS_')) env[key] = value;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

export interface ServerProcess {
  child: ChildProcess;
  /** `http://127.0.0.1:PORT`, read from what the server printed. */
  url: string;
  /** Everything printed on stdout so far. */
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Runs `node <bin> ...args` and waits for the "listening on URL" line. */
export async function startServerProcess(
  args: string[],
  { env = cleanEnv(), bin = SERVER_BIN }: { env?: NodeJS.ProcessEnv; bin?: string } = {},
): Promise<ServerProcess> {
  const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = collectOutput(child);
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (): void => {
      const match = /listening on (http:\/\/\S+)/.exec(output.stdout());
      if (match) {
        child.stdout.off('data', onData);
        child.off('exit', onExit);
        resolve(match[1]!);
      }
    };
    const onExit = (code: number | null): void =>
      reject(new Error(`server exited with ${code} before listening: ${output.stderr() || output.stdout()}`));
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    url,
    stdout: output.stdout,
    stderr: output.stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface RunProcessOptions {
  env?: NodeJS.ProcessEnv;
  /** Default: the server's `dist/bin.js`. */
  bin?: string;
  cwd?: string;
  /** Written to stdin, which is then closed. Default: nothing (stdin closed at once). */
  input?: string;
}

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node <bin> ...args` to the end (all its output read), with piped (non-TTY) stdin. */
export async function runProcess(
  args: string[],
  { env = cleanEnv(), bin = SERVER_BIN, cwd, input = '' }: RunProcessOptions = {},
): Promise<ProcessResult> {
  const child = spawn(process.execPath, [bin, ...args], {
    env,
    ...(cwd !== undefined && { cwd }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const output = collectOutput(child);
  child.stdin.on('error', () => {}); // a process that exits before reading all of it
  child.stdin.end(input);
  const [code] = await once(child, 'close');
  return { code: code as number | null, stdout: output.stdout(), stderr: output.stderr() };
}

/** Reads a child's stdout and stderr as text from now on. */
function collectOutput(child: ChildProcessByStdio<Writable | null, Readable, Readable>): {
  stdout(): string;
  stderr(): string;
} {
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return { stdout: () => stdout, stderr: () => stderr };
}
