import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { OFFLINE_PREFIX } from '@sessions/server';
import { useTempDir } from '@sessions/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ROOT, runCli } from './cli-process.test-helper.js';

const RUN = join(ROOT, 'scripts', 'run.mjs');
const tmp = useTempDir({ beforeEach, afterEach, prefix: 'sessions-demo-' });

const demo = (args: string[], input: string) =>
  runCli(['demo', '--no-install', '--data-dir', tmp.path, ...args], { script: RUN, input });

const serverUrl = (stderr: string): string => {
  const match = /Demo server on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
  if (!match) throw new Error(`no server URL in:\n${stderr}`);
  return match[1]!;
};

describe('npm run demo', () => {
  it("answers `printf 'hello\\n/exit\\n' | npm run demo` offline, exits 0 and stops the server", async () => {
    const result = await demo(['--port', '0'], 'hello\n/exit\n');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`${OFFLINE_PREFIX} You said: "hello".`);
    expect(result.stderr).toContain('OFFLINE');
    const url = serverUrl(result.stderr);
    await expect(fetch(`${url}/health`)).rejects.toThrow(); // stopped with the chat
  });

  it('remembers the user from one demo run to the next', async () => {
    const first = await demo(['--port', '0'], 'Hi, my name is Ada\n');
    expect(first.code).toBe(0);
    const second = await demo(['--port', '0', '--json'], 'What is my name?\n/exit\n');
    expect(second.code).toBe(0);
    const [reply] = second.lines<{ content: string }>();
    expect(reply?.content).toContain('my name is Ada');
  });

  it('takes a free port when the default one is taken', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as { port: number }).port;
    try {
      const result = await demo(['--port', String(taken)], 'hello\n');
      expect(result.code).toBe(0);
      expect(serverUrl(result.stderr)).not.toBe(`http://127.0.0.1:${taken}`);
      expect(result.stdout).toContain(OFFLINE_PREFIX);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
