import { fileURLToPath } from 'node:url';
import {
  cleanEnv,
  type ProcessResult,
  runProcess,
  type ServerProcess,
  startServerProcess,
} from '../../server/src/server-process.test-helper.js';

/** The built `sessions` command (`pnpm exec turbo run build --filter=@sessions/cli...` first). */
export const CLI_BIN: string = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
/** The repository root. */
export const ROOT: string = fileURLToPath(new URL('../../../', import.meta.url));

export { cleanEnv };

export interface CliResult extends ProcessResult {
  /** stdout parsed as one JSON document. */
  json<T = unknown>(): T;
  /** stdout parsed as JSON Lines. */
  lines<T = Record<string, unknown>>(): T[];
}

export interface RunOptions {
  /** Written to stdin, which is then closed. Default: nothing (stdin closed at once). */
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run this script instead of the CLI. */
  script?: string;
}

/** Runs `node dist/bin.js ...args` to its end, with piped (non-TTY) stdin. */
export async function runCli(args: string[], options: RunOptions = {}): Promise<CliResult> {
  const result = await runProcess(args, {
    bin: options.script ?? CLI_BIN,
    env: options.env ?? cleanEnv(),
    cwd: options.cwd ?? ROOT,
    ...(options.input !== undefined && { input: options.input }),
  });
  const { stdout } = result;
  return {
    ...result,
    json: <T>() => JSON.parse(stdout) as T,
    lines: <T>() =>
      stdout
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as T),
  };
}

/** `sessions serve --port 0 --no-log ...args`, listening. */
export function startCliServer(args: string[], env?: NodeJS.ProcessEnv): Promise<ServerProcess> {
  return startServerProcess(['serve', '--port', '0', '--no-log', ...args], {
    bin: CLI_BIN,
    ...(env && { env }),
  });
}

/** The stderr of a failed command: exactly one line, `error: ...`, never a stack. */
export function oneErrorLine(result: CliResult): string {
  const lines = result.stderr.trimEnd().split('\n');
  if (lines.length !== 1 || !lines[0]!.startsWith('error: ')) {
    throw new Error(`expected one error line on stderr, got:\n${result.stderr}`);
  }
  return lines[0]!;
}
