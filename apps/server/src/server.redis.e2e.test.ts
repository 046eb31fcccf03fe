// Two built demo servers (child processes) on one real redis-server: turns of one session sent to
// both, one after another and all at once; every message is kept once, in one order both agree on.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Message } from '@sessions/core';
import { RemoteSession } from '@sessions/remote-client';
import { type RedisServer, startRedisServer } from '@sessions/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServerProcess, startServerProcess } from './server-process.test-helper.js';

let dir: string;
let redis: RedisServer;
let servers: ServerProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sessions-two-servers-'));
  redis = await startRedisServer();
  servers = await Promise.all(
    ['a', 'b'].map((name) =>
      startServerProcess(['--port', '0', '--no-log', '--data-dir', join(dir, name), '--store', redis.url]),
    ),
  );
});
afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  await redis.stop();
  await rm(dir, { recursive: true, force: true });
});

const remote = (index: number): RemoteSession =>
  new RemoteSession({ agentUrl: servers[index % 2]!.url, sessionId: 'shared', timeout: 60_000 });

const userTurns = (messages: Message[]): string[] =>
  messages.filter((message) => message.role === 'user').map((message) => message.content);

describe('two demo servers on one Redis', () => {
  it('print that they keep sessions in Redis', () => {
    for (const server of servers) expect(server.stdout()).toContain(`sessions:  Redis ${redis.url}`);
  });

  it('keep every turn of one session once, in order, whichever server takes it', async () => {
    for (let i = 0; i < 6; i += 1) await remote(i).chat(`turn ${i}`);
    const sequential = Array.from({ length: 6 }, (_, i) => `turn ${i}`);
    expect(userTurns(await remote(0).messages())).toEqual(sequential);

    const concurrent = Array.from({ length: 20 }, (_, i) => `burst ${i}`);
    await Promise.all(concurrent.map((text, i) => remote(i).chat(text)));

    const [seenByA, seenByB] = await Promise.all([remote(0).messages(), remote(1).messages()]);
    expect(seenByB).toEqual(seenByA); // one order, the same from both servers
    expect(seenByA).toHaveLength(2 * 26);
    const users = userTurns(seenByA);
    expect(users.slice(0, 6)).toEqual(sequential);
    expect([...users.slice(6)].sort()).toEqual([...concurrent].sort()); // each once
    expect(new Set(seenByA.map((message) => message.id)).size).toBe(seenByA.length);
    for (let i = 0; i < seenByA.length; i += 2) {
      // every turn is appended whole: its user message, then the answer to it
      expect(seenByA[i]?.role).toBe('user');
      expect(seenByA[i + 1]?.role).toBe('assistant');
      expect(seenByA[i + 1]?.content).toContain(`You said: "${seenByA[i]?.content}"`);
    }
  });
});
