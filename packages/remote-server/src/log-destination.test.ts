import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { logDestination } from './log-destination.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'log-destination-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const flushed = (destination: { flush(callback: (error?: Error) => void): void }): Promise<void> =>
  new Promise((resolve, reject) => destination.flush((error) => (error ? reject(error) : resolve())));

describe('logDestination', () => {
  it('writes the lines of one event-loop turn together, after that turn, in order', async () => {
    const file = join(dir, 'a.log');
    const destination = logDestination({ dest: file });
    await flushed(destination);
    destination.write('one\n');
    destination.write('two\n');
    expect(readFileSync(file, 'utf8')).toBe('');
    await flushed(destination);
    destination.write('three\n');
    await flushed(destination);
    expect(readFileSync(file, 'utf8')).toBe('one\ntwo\nthree\n');
  });

  it('calls back from flush only when every line is written, however many', async () => {
    const file = join(dir, 'b.log');
    const destination = logDestination({ dest: file });
    for (let turn = 0; turn < 20; turn++) {
      for (let i = 0; i < 500; i++) destination.write(`${turn}-${i} ${'x'.repeat(100)}\n`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await flushed(destination);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(10_000);
    expect(lines[0]).toMatch(/^0-0 /);
    expect(lines.at(-1)).toMatch(/^19-499 /);
  });

  it('serves pino, whose flush() goes through it', async () => {
    const file = join(dir, 'c.log');
    const logger = pino({ level: 'info' }, logDestination({ dest: file }));
    logger.info({ reqId: 'r1' }, 'request');
    await new Promise<void>((resolve, reject) =>
      logger.flush((error) => (error ? reject(error) : resolve())),
    );
    const line = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(line).toMatchObject({ reqId: 'r1', msg: 'request', level: 30 });
  });
});
