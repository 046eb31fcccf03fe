import { SessionsError } from '@sessions/core';

/** Whether to print stacks: `--debug` anywhere on the command line, or `SESSIONS_DEBUG=1`. */
export function debugRequested(
  argv: readonly string[] = process.argv,
  env: Record<string, string | undefined> = process.env,
): boolean {
  return argv.includes('--debug') || (env.SESSIONS_DEBUG !== undefined && env.SESSIONS_DEBUG !== '0');
}

/** One line for a person: what went wrong, never a stack. */
export function errorLine(error: unknown): string {
  if (error instanceof Error || SessionsError.is(error)) {
    const message = (error as Error).message.trim() || (error as Error).name;
    return message.split('\n')[0]!;
  }
  return String(error);
}

/**
 * Prints `error` on stderr as one line (`error: ...`), or with its stack and causes under
 * `debug`, and sets a non-zero exit code.
 */
export function reportError(
  error: unknown,
  {
    debug = debugRequested(),
    stderr = process.stderr,
  }: { debug?: boolean; stderr?: { write(text: string): unknown } } = {},
): void {
  stderr.write(`error: ${errorLine(error)}\n`);
  if (debug) {
    let current: unknown = error;
    while (current !== undefined) {
      stderr.write(`${current instanceof Error ? (current.stack ?? current.message) : String(current)}\n`);
      current = current instanceof Error ? current.cause : undefined;
      if (current !== undefined) stderr.write('caused by: ');
    }
  }
  process.exitCode = 1;
}
