import { pino } from 'pino';

/**
 * Where the server logs: the shape of a pino logger (`(fields, message)`), which bunyan-style
 * loggers share. Each line carries the request id as `reqId`.
 */
export interface ServerLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
  /**
   * Writes out what is buffered (pino's `flush`): called when the listening server closes, so a
   * buffered destination loses nothing on a normal shutdown.
   */
  flush?(callback?: (error?: Error) => void): void;
}

const silent: ServerLogger = { info() {}, warn() {}, error() {} };

/**
 * How long a line may wait in the default logger's buffer when few are written. Under load the
 * buffer fills (4 KiB) long before.
 */
export const LOG_FLUSH_MS = 200;

/**
 * The logger of the options: a given one, none (`false`), else pino on stdout at level `info`,
 * through a buffered asynchronous destination (pino's own recipe for throughput: one write per
 * 4 KiB of lines, or every `LOG_FLUSH_MS`, instead of one hand-off to the thread pool per line),
 * flushed when the server closes and when the process exits.
 */
export function serverLogger(logger: ServerLogger | false | undefined): ServerLogger {
  if (logger === false) return silent;
  return (
    logger ??
    pino(
      { name: 'sessions-remote-server' },
      pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: LOG_FLUSH_MS }),
    )
  );
}

/** Flushes `logger` when it can be (pino's `flush`); never fails (a pipe cannot be fsynced, say). */
export function flushLogger(logger: ServerLogger): Promise<void> {
  if (typeof logger.flush !== 'function') return Promise.resolve();
  return new Promise((resolve) => {
    try {
      logger.flush?.(() => resolve());
    } catch {
      resolve();
    }
  });
}
