import { pino } from 'pino';
import { type LogDestination, logDestination } from './log-destination.js';

let stdout: LogDestination | undefined;

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
 * The logger of the options: a given one (whose lines never throw: see `quiet`), none (`false`),
 * else pino on stdout at level `info`, through `logDestination()` (the lines of one event-loop turn
 * written out together), flushed when the server closes and when the process exits.
 */
export function serverLogger(logger: ServerLogger | false | undefined): ServerLogger {
  if (logger === false) return silent;
  if (logger) return quiet(logger);
  // One stdout destination for every server of the process: each one made per server would be
  // held (for the write-out at exit) as long as the process lives.
  stdout ??= logDestination();
  return pino({ name: 'sessions-remote-server' }, stdout);
}

/** `logger`, except that a line it fails to write is lost instead of failing the request it tells of. */
function quiet(logger: ServerLogger): ServerLogger {
  const at =
    (level: 'info' | 'warn' | 'error') =>
    (fields: Record<string, unknown>, message: string): void => {
      try {
        logger[level](fields, message);
      } catch {
        // A log line is never worth an answer.
      }
    };
  const quieted: ServerLogger = { info: at('info'), warn: at('warn'), error: at('error') };
  if (typeof logger.flush === 'function') quieted.flush = (callback) => logger.flush?.(callback);
  return quieted;
}

/** How long a server's `close()` waits for its logger's `flush()` at most. */
const FLUSH_WAIT_MS = 5_000;

/** Flushes `logger` when it can be (pino's `flush`); never fails, nor waits past `FLUSH_WAIT_MS`. */
export function flushLogger(logger: ServerLogger): Promise<void> {
  if (typeof logger.flush !== 'function') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, FLUSH_WAIT_MS);
    timer.unref?.();
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    try {
      logger.flush?.(done);
    } catch {
      done();
    }
  });
}
