import { format } from 'node:util';
import type { TurnResult } from '@sessions/core';
import { compose, ModelError } from '@sessions/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { expectInvalidOption } from './invalid-option.test-helper.js';
import type { Logger } from './logging.js';
import { consoleLogger, logging } from './logging.js';
import { makeTurn } from './turn.test-helper.js';

interface Line {
  level: 'info' | 'error';
  fields: Record<string, unknown>;
  message: string;
}

/** A logger whose methods use `this`, as pino's do. */
class MemoryLogger implements Logger {
  readonly lines: Line[] = [];
  info(fields: Record<string, unknown>, message: string): void {
    this.lines.push({ level: 'info', fields, message });
  }
  error(fields: Record<string, unknown>, message: string): void {
    this.lines.push({ level: 'error', fields, message });
  }
}

const answer = (result: TurnResult) => async (): Promise<TurnResult> => result;

describe('logging', () => {
  afterEach(() => vi.restoreAllMocks());

  it('logs one line per completed turn with message, response, usage, tool rounds and duration', async () => {
    const logger = new MemoryLogger();
    const usage = { inputTokens: 3, outputTokens: 4, totalTokens: 7 };
    const run = compose([logging({ logger })], answer({ content: 'hi there', usage, toolRounds: 1 }));
    const result = await run(makeTurn({ streaming: true }));

    expect(result.content).toBe('hi there');
    expect(logger.lines).toHaveLength(1);
    const [line] = logger.lines;
    expect(line?.level).toBe('info');
    expect(line?.message).toBe('turn completed');
    expect(line?.fields).toMatchObject({
      sessionId: 's1',
      userId: 'u1',
      agentName: 'Assistant',
      streaming: true,
      message: 'hi',
      response: 'hi there',
      usage,
      toolRounds: 1,
    });
    expect(typeof line?.fields.durationMs).toBe('number');
    expect(line?.fields.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('leaves usage and tool rounds out when the result has none', async () => {
    const logger = new MemoryLogger();
    await compose([logging({ logger })], answer({ content: 'ok' }))(makeTurn());
    expect(logger.lines[0]?.fields).not.toHaveProperty('usage');
    expect(logger.lines[0]?.fields).not.toHaveProperty('toolRounds');
  });

  it('truncates the message and the response to maxLength', async () => {
    const logger = new MemoryLogger();
    const run = compose([logging({ logger, maxLength: 5 })], answer({ content: 'abcdefghij' }));
    await run(makeTurn({ message: 'hello world' }));
    expect(logger.lines[0]?.fields.message).toBe('hello… (+6 chars)');
    expect(logger.lines[0]?.fields.response).toBe('abcde… (+5 chars)');
  });

  it('never cuts a surrogate pair in half', async () => {
    const logger = new MemoryLogger();
    await compose([logging({ logger, maxLength: 3 })], answer({ content: 'ab😀cd' }))(makeTurn());
    expect(logger.lines[0]?.fields.response).toBe('ab… (+4 chars)');
  });

  it('logs a failed turn with the error and its code, then rethrows it', async () => {
    const logger = new MemoryLogger();
    const failure = new ModelError('upstream 503', { status: 503, retryable: true });
    const run = compose([logging({ logger })], async () => {
      throw failure;
    });
    await expect(run(makeTurn())).rejects.toBe(failure);
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]?.level).toBe('error');
    expect(logger.lines[0]?.message).toBe('turn failed: upstream 503');
    expect(logger.lines[0]?.fields).toMatchObject({ err: failure, code: 'model_error', message: 'hi' });
  });

  it("logs only failures at level 'error'", async () => {
    const logger = new MemoryLogger();
    await compose([logging({ logger, level: 'error' })], answer({ content: 'ok' }))(makeTurn());
    expect(logger.lines).toHaveLength(0);
    const run = compose([logging({ logger, level: 'error' })], async () => {
      throw new Error('boom');
    });
    await expect(run(makeTurn())).rejects.toThrow('boom');
    expect(logger.lines.map((l) => l.message)).toEqual(['turn failed: boom']);
    expect(logger.lines[0]?.fields).not.toHaveProperty('code');
  });

  it('logs the message as inner middleware rewrote it (what was sent and stored)', async () => {
    const logger = new MemoryLogger();
    const run = compose(
      [
        logging({ logger }),
        async (turn, next) => {
          turn.message = turn.message.toUpperCase();
          return next();
        },
      ],
      answer({ content: 'ok' }),
    );
    await run(makeTurn({ message: 'quiet' }));
    expect(logger.lines[0]?.fields.message).toBe('QUIET');
  });

  it('writes one console.info line per completed turn by default: the message, then the fields as JSON', async () => {
    const out: string[] = [];
    // What console prints is util.format of its arguments.
    vi.spyOn(console, 'info').mockImplementation((...args: unknown[]) => void out.push(format(...args)));
    const usage = { inputTokens: 3, outputTokens: 4, totalTokens: 7 };
    const run = compose([logging()], answer({ content: 'first\nsecond', usage, toolRounds: 0 }));
    await run(makeTurn({ message: 'a long enough message\nover two lines' }));

    expect(out).toHaveLength(1);
    const line = out[0] ?? '';
    expect(line).not.toMatch(/[\r\n]/);
    const prefix = '[sessions] turn completed ';
    expect(line.startsWith(prefix)).toBe(true);
    expect(JSON.parse(line.slice(prefix.length))).toMatchObject({
      sessionId: 's1',
      userId: 'u1',
      agentName: 'Assistant',
      streaming: false,
      message: 'a long enough message\nover two lines',
      response: 'first\nsecond',
      usage,
      toolRounds: 0,
    });
  });

  it('writes a failed turn on one console.error line, the error as its type, message, own fields and stack', async () => {
    const out: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void out.push(format(...args)));
    const failure = new ModelError('upstream\n503', {
      status: 503,
      retryable: true,
      cause: new Error('reset'),
    });
    const run = compose([logging()], async () => {
      throw failure;
    });
    await expect(run(makeTurn())).rejects.toBe(failure);

    expect(out).toHaveLength(1);
    const line = out[0] ?? '';
    expect(line).not.toMatch(/[\r\n]/);
    const prefix = '[sessions] turn failed: upstream\\n503 ';
    expect(line.startsWith(prefix)).toBe(true);
    const fields = JSON.parse(line.slice(prefix.length));
    expect(fields).toMatchObject({ sessionId: 's1', message: 'hi', code: 'model_error' });
    expect(fields.err).toMatchObject({
      type: 'ModelError',
      message: 'upstream\n503',
      code: 'model_error',
      status: 503,
      retryable: true,
      cause: { type: 'Error', message: 'reset' },
    });
    expect(fields.err.stack).toContain('upstream');
  });

  it('keeps a failed turn on one console line when the error holds a cycle or a bigint', async () => {
    const out: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void out.push(format(...args)));
    const failure = Object.assign(new Error('odd'), {
      size: 10n,
      request: { url: '/v1' } as Record<string, unknown>,
    });
    failure.request.error = failure;
    const run = compose([logging()], async () => {
      throw failure;
    });
    await expect(run(makeTurn())).rejects.toBe(failure);

    expect(out).toHaveLength(1);
    const fields = JSON.parse((out[0] ?? '').slice('[sessions] turn failed: odd '.length));
    expect(fields.err).toMatchObject({
      message: 'odd',
      size: '10',
      request: { url: '/v1', error: '[Circular]' },
    });
  });

  it('consoleLogger writes any fields and message as one line', () => {
    const out: string[] = [];
    vi.spyOn(console, 'info').mockImplementation((...args: unknown[]) => void out.push(format(...args)));
    const shared = { a: 1 };
    consoleLogger.info({ code: 'x', left: shared, right: shared }, 'two\r\nlines');
    expect(out).toEqual(['[sessions] two\\r\\nlines {"code":"x","left":{"a":1},"right":{"a":1}}']);
  });

  it.each([
    ['options', 'info'],
    ['level', { level: 'x' }],
    ['level', { level: 'warn' }],
    ['maxLength', { maxLength: -1 }],
    ['maxLength', { maxLength: 1.5 }],
    ['maxLength', { maxLength: Number.NaN }],
    ['maxLength', { maxLength: '200' }],
    ['logger', { logger: null }],
    ['logger', { logger: {} }],
    ['logger', { logger: { info: () => undefined } }],
    ['logger', { logger: console.info }],
  ])('refuses a bad %s at once with InvalidInputError naming it', (option, options) => {
    expectInvalidOption(() => logging(options as never), 'logging', option);
  });

  it('accepts maxLength 0 and Infinity', async () => {
    const logger = new MemoryLogger();
    await compose([logging({ logger, maxLength: 0 })], answer({ content: 'ok' }))(makeTurn());
    await compose(
      [logging({ logger, maxLength: Number.POSITIVE_INFINITY })],
      answer({ content: 'ok' }),
    )(makeTurn());
    expect(logger.lines.map((l) => l.fields.response)).toEqual(['… (+2 chars)', 'ok']);
  });
});
