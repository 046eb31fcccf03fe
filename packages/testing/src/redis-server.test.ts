import { createConnection } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startRedisServer } from './redis-server.js';

/** Sends one inline command and resolves the first reply line. */
function command(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let answer = '';
    socket.on('error', reject);
    socket.on('connect', () => socket.write(`${line}\r\n`));
    socket.on('data', (chunk) => {
      answer += chunk.toString('utf8');
      if (answer.includes('\r\n')) {
        socket.destroy();
        resolve(answer.split('\r\n')[0]!);
      }
    });
  });
}

describe('startRedisServer', () => {
  it('starts a server on a loopback port that answers, and stops it', async () => {
    const redis = await startRedisServer();
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect(await command(redis.port, 'SET greeting hello')).toBe('+OK');
    expect(await command(redis.port, 'GET greeting')).toBe('$5');
    await redis.stop();
    await expect(command(redis.port, 'PING')).rejects.toThrow(/ECONNREFUSED/);
    await redis.stop(); // twice is fine
  });

  it('two servers get two ports', async () => {
    const [a, b] = await Promise.all([startRedisServer(), startRedisServer()]);
    try {
      expect(a.port).not.toBe(b.port);
      await command(a.port, 'SET only-on-a 1');
      expect(await command(b.port, 'EXISTS only-on-a')).toBe(':0');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('says clearly when redis-server is not installed', async () => {
    await expect(startRedisServer({ command: 'redis-server-that-does-not-exist' })).rejects.toThrow(
      /is not installed.*apt-get install -y redis-server/,
    );
  });
});
