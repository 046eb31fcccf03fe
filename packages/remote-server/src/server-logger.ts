import { pino } from 'pino';

/**
 * Where the server logs: the shape of a pino logger (`(fields, message)`), which bunyan-style
 * loggers share. Each line carries the request id as `reqId`.
 */
export interface ServerLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

const silent: ServerLogger = { info() {}, warn() {}, error() {} };

/** The logger of the options: a given one, none (`false`), else pino on stdout at level `info`. */
export function serverLogger(logger: ServerLogger | false | undefined): ServerLogger {
  if (logger === false) return silent;
  return logger ?? pino({ name: 'sessions-remote-server' });
}
