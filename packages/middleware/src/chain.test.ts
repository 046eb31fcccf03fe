import type { Middleware } from '@sessions/core';
import { BudgetExceededError, compose, ModelError, RateLimitError } from '@sessions/core';
import { describe, expect, it } from 'vitest';
import { afterResponse } from './after-response.js';
import { budget } from './budget.js';
import type { Logger } from './logging.js';
import { logging } from './logging.js';
import { rateLimit } from './rate-limit.js';
import { redact } from './redact.js';
import { retry } from './retry.js';
import { timeout } from './timeout.js';
import { makeTurn } from './turn.test-helper.js';

describe('a chain of middleware', () => {
  it('runs as an onion: the first is outermost, before and after', async () => {
    const trace: string[] = [];
    const mark =
      (name: string): Middleware =>
      async (_turn, next) => {
        trace.push(`${name} in`);
        const result = await next();
        trace.push(`${name} out`);
        return result;
      };
    const run = compose(
      [mark('a'), afterResponse((_m, r) => `${r}+outer`), mark('b'), afterResponse((_m, r) => `${r}+inner`)],
      async () => {
        trace.push('handler');
        return { content: 'reply' };
      },
    );
    await expect(run(makeTurn('hi'))).resolves.toEqual({ content: 'reply+inner+outer' });
    expect(trace).toEqual(['a in', 'b in', 'handler', 'b out', 'a out']);
  });

  it('logs the redacted turn when logging is outside redact, and the raw one when inside', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger: Logger = { info: (fields) => lines.push(fields), error: (fields) => lines.push(fields) };
    const handler = async () => ({ content: 'write to bob@example.com' });

    await compose([logging({ logger }), redact()], handler)(makeTurn('I am ann@example.com'));
    expect(lines[0]).toMatchObject({ message: 'I am [email]', response: 'write to [email]' });

    await compose([redact(), logging({ logger })], handler)(makeTurn('I am ann@example.com'));
    expect(lines[1]).toMatchObject({ message: 'I am [email]', response: 'write to bob@example.com' });
  });

  it('runs all of them together around a flaky model', async () => {
    const lines: { level: string; fields: Record<string, unknown> }[] = [];
    const logger: Logger = {
      info: (fields) => lines.push({ level: 'info', fields }),
      error: (fields) => lines.push({ level: 'error', fields }),
    };
    const spent = new Map<string, number>();
    const clock = { time: 0 };
    const sent: string[] = [];
    let failNext = true;
    const run = compose(
      [
        logging({ logger }),
        rateLimit({ limit: 3, windowMs: 60_000, now: () => clock.time }),
        budget({ maxTokens: 100, store: spent }),
        retry({ sleep: async () => undefined }),
        timeout({ ms: 5_000 }),
        redact(),
        afterResponse((_message, response) => `${response} (checked)`),
      ],
      async (turn) => {
        sent.push(turn.message);
        if (failNext) {
          failNext = false;
          throw new ModelError('overloaded', { status: 529, retryable: true });
        }
        return {
          content: `mail sk-live-${'k'.repeat(20)} to ann@example.com`,
          usage: { inputTokens: 30, outputTokens: 30, totalTokens: 60 },
        };
      },
    );

    const first = await run(makeTurn('my card is 4111-1111-1111-1111'));
    // afterResponse runs inside redact: it sees the raw reply, then redact hides what it returned
    expect(first.content).toBe('mail [secret] to [email] (checked)');
    expect(sent).toEqual(['my card is [card]', 'my card is [card]']);
    expect(spent.get('s1')).toBe(60);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.fields).toMatchObject({
      message: 'my card is [card]',
      response: 'mail [secret] to [email] (checked)',
    });

    await run(makeTurn('again')); // 120 tokens now: over budget
    await expect(run(makeTurn('once more'))).rejects.toBeInstanceOf(BudgetExceededError);
    await expect(run(makeTurn('and again'))).rejects.toBeInstanceOf(RateLimitError);
    expect(lines.map((l) => l.level)).toEqual(['info', 'info', 'error', 'error']);
    expect(lines[3]?.fields).toMatchObject({ code: 'rate_limited' });
  });
});
