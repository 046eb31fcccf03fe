import type { Middleware, TurnContext, TurnResult } from '@sessions/core';
import { SessionsError } from '@sessions/core';
import type { OptionRule } from './check-option.js';
import { anObject, checkOption, oneOf, withMethods } from './check-option.js';
import { truncate } from './truncate.js';

/**
 * Where `logging` writes: an object with `info` and `error` methods taking `(fields, message)`,
 * the shape of pino, bunyan-style loggers and `console`.
 */
export interface Logger {
  info(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** Which turns `logging` writes: `'info'` every turn, `'error'` only the turns that fail. */
export type LogLevel = 'info' | 'error';

export interface LoggingOptions {
  /** Default: a logger on `console.info` / `console.error`. */
  logger?: Logger;
  /** Default `'info'`: a line for every turn; `'error'`: only failed turns. */
  level?: LogLevel;
  /** The message and the response are cut to this many characters. Default 200. */
  maxLength?: number;
}

/**
 * One line per turn on `console`: `[sessions] turn completed {"sessionId":"s1",...}`, the message
 * (line breaks escaped), then the fields as JSON. An error is written as its `type`, `message`, own
 * fields (`code`...), `stack` and `cause`, as pino does; a cycle becomes `"[Circular]"`, a bigint a string.
 */
export const consoleLogger: Logger = {
  info: (fields, message) => console.info(consoleLine(fields, message)),
  error: (fields, message) => console.error(consoleLine(fields, message)),
};

function consoleLine(fields: Record<string, unknown>, message: string): string {
  const text = message.replace(/\r/g, '\\r').replace(/\n/g, '\\n');
  return `[sessions] ${text} ${oneLineJson(fields)}`;
}

/** `JSON.stringify` (one line) that writes errors, bigints and cycles instead of losing or throwing on them. */
function oneLineJson(value: unknown): string {
  /** The objects being written, outermost first: each as found and as written. */
  const path: { found: object; written: object }[] = [];
  try {
    return JSON.stringify(value, function replace(this: unknown, _key: string, item: unknown): unknown {
      if (typeof item === 'bigint') return item.toString();
      if (typeof item !== 'object' || item === null) return item;
      while (path.length > 0 && path.at(-1)?.written !== this) path.pop();
      if (path.some((entry) => entry.found === item)) return '[Circular]';
      const written = item instanceof Error ? errorJson(item) : item;
      path.push({ found: item, written });
      return written;
    });
  } catch (error) {
    return JSON.stringify({ unserializable: errorSummary(error) });
  }
}

function errorJson(error: Error): Record<string, unknown> {
  const json: Record<string, unknown> = { type: error.name, ...error, message: error.message };
  json.stack = error.stack;
  if (error.cause !== undefined) json.cause = error.cause;
  return json;
}

/**
 * Logs one line per turn when it ends: the user message (as sent to the model and stored), the
 * response (as returned and stored), the duration, token usage and tool rounds; or, when the turn
 * fails, the error (as `err`, which pino serializes) and the duration, and rethrows it.
 *
 * Put it first (outermost) so it logs what is stored: the message and response after the inner
 * middleware (redaction included) changed them, and the duration of all retries.
 */
export const logging = (options: LoggingOptions = {}): Middleware => {
  checkOption('logging', 'options', options, anObject);
  const { logger = consoleLogger, level = 'info', maxLength = 200 } = options;
  checkOption('logging', 'logger', logger, aLogger);
  checkOption('logging', 'level', level, oneOf('info', 'error'));
  checkOption('logging', 'maxLength', maxLength, aLength);
  // `then` rather than `async`/`await`: one promise less on every turn.
  return function logging(turn, next) {
    const started = performance.now();
    let pending: Promise<TurnResult>;
    try {
      pending = next();
    } catch (error) {
      pending = Promise.reject(error);
    }
    return pending.then(
      (result) => {
        if (level === 'info') logger.info(turnFields(turn, started, maxLength, result), 'turn completed');
        return result;
      },
      (error: unknown) => {
        const fields = turnFields(turn, started, maxLength, undefined);
        fields.err = error;
        if (SessionsError.is(error)) fields.code = error.code;
        logger.error(fields, `turn failed: ${errorSummary(error)}`);
        throw error;
      },
    );
  };
};

const aLogger: OptionRule = withMethods('info', 'error');

const aLength: OptionRule = {
  expected: 'a non-negative integer or Infinity',
  test: (value) => value === Number.POSITIVE_INFINITY || (Number.isInteger(value) && (value as number) >= 0),
};

/** The fields of a turn's line, in one object: the turn as it ended, then what it answered. */
function turnFields(
  turn: TurnContext,
  started: number,
  maxLength: number,
  result: TurnResult | undefined,
): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    sessionId: turn.sessionId,
    userId: turn.userId,
    agentName: turn.agentName,
    streaming: turn.streaming,
    message: truncate(turn.message, maxLength),
    durationMs: Math.round(performance.now() - started),
  };
  if (result === undefined) return fields;
  fields.response = truncate(result.content, maxLength);
  if (result.usage !== undefined) fields.usage = result.usage;
  if (result.toolRounds !== undefined) fields.toolRounds = result.toolRounds;
  return fields;
}

function errorSummary(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
