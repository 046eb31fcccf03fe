// The built `sessions-server` as a child process: real HTTP on an ephemeral port, real files in a
// temp folder, the offline mode, restarts, auth, and a model reached through the environment.
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RemoteSession } from '@sessions/remote-client';
import { type FakeOpenAI, startFakeOpenAI, useTempDir } from '@sessions/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OFFLINE_PREFIX } from './offline-model.js';
import {
  cleanEnv,
  runProcess,
  type ServerProcess,
  startServerProcess,
} from './server-process.test-helper.js';

const tmp = useTempDir({ beforeEach, afterEach, prefix: 'sessions-server-' });
let fake: FakeOpenAI;
const running: ServerProcess[] = [];

beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(() => fake.close());
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.stop()));
});

async function start(args: string[] = [], env?: NodeJS.ProcessEnv): Promise<ServerProcess> {
  const server = await startServerProcess(['--port', '0', '--data-dir', tmp.path, '--no-log', ...args], {
    ...(env && { env }),
  });
  running.push(server);
  return server;
}

async function ask(url: string, message: string, init: { headers?: Record<string, string> } = {}) {
  const response = await fetch(`${url}/agent`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...init.headers },
    body: JSON.stringify({ message, session_id: 'demo' }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('sessions-server', () => {
  it('prints where it listens, that it is offline, and how to connect', async () => {
    const server = await start();
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.url).not.toMatch(/:0$/);
    const banner = server.stdout();
    expect(banner).toContain('OFFLINE mode: no model configured');
    expect(banner).toContain(`sessions chat --remote ${server.url}`);
    expect(banner).toContain(`curl -s ${server.url}/agent`);
    expect(banner).toContain(`sessions:  SQLite ${join(tmp.path, 'sessions.sqlite')}`);
    expect(banner).toContain(`memory:    SQLite, all sessions, ${join(tmp.path, 'memory.sqlite')}`);
    expect(await (await fetch(`${server.url}/health`)).json()).toEqual({ status: 'ok' });
  });

  it('answers offline from memory, and remembers the user after a restart', async () => {
    const first = await start();
    const hello = await ask(first.url, 'Hello, my name is Ada');
    expect(hello.status).toBe(200);
    expect(String(hello.body.content).startsWith(OFFLINE_PREFIX)).toBe(true);
    expect(await first.stop()).toBe(0);
    expect(first.stdout()).toContain('Stopping');

    const second = await start();
    const answer = await ask(second.url, 'What is my name?');
    expect(answer.body.content).toContain(OFFLINE_PREFIX);
    expect(answer.body.content).toContain('my name is Ada');
    expect(answer.body.session_id).toBe('demo');

    const remote = new RemoteSession({ agentUrl: second.url, sessionId: 'demo' });
    expect((await remote.getContext()).messageCount).toBe(4);
    let streamed = '';
    for await (const { delta } of remote.stream('and my name?')) streamed += delta;
    expect(streamed).toContain('• Hello, my name is Ada');
  });

  it('serves memory and knowledge per session, and deletes them with the session', async () => {
    const server = await start();
    const remote = new RemoteSession({ agentUrl: server.url, sessionId: 'kb' });
    await remote.addKnowledge({ text: 'The office opens at nine every weekday.', title: 'Office hours' });
    await remote.addMemory('User prefers short answers');
    expect((await remote.searchKnowledge('office opens'))[0]?.title).toBe('Office hours');
    const file = join(tmp.path, 'handbook.md');
    await writeFile(file, '# Draft\n\nParking is free for staff on level two.');
    const uploaded = await remote.addKnowledge({ path: file, title: 'Staff handbook' });
    expect(uploaded).toMatchObject({ source: 'handbook.md', title: 'Staff handbook' });
    expect((await remote.searchKnowledge('parking staff'))[0]).toMatchObject({
      source: 'handbook.md',
      title: 'Staff handbook',
    });
    expect((await remote.searchMemory('short answers'))[0]?.text).toBe('User prefers short answers');
    const answer = await remote.chat('When does the office open?');
    expect(answer).toMatch(/\[1\] \(Office hours.*\) The office opens at nine/);
    await remote.delete();
    const again = new RemoteSession({ agentUrl: server.url, sessionId: 'kb' });
    await expect(again.getContext()).rejects.toMatchObject({ code: 'not_found' });
    await again.saveState({ fresh: true }); // the id again, as a new session: nothing of the old one
    expect(await again.searchKnowledge('office')).toEqual([]);
    expect(await again.searchMemory('short answers')).toEqual([]);
  });

  it('shares memory added in user scope between the sessions of that user', async () => {
    const server = await start();
    const ada = new RemoteSession({ agentUrl: server.url, sessionId: 'ada_1', userId: 'ada' });
    await ada.chat('hello');
    const fact = await ada.addMemory('Ada prefers metric units', { scope: 'user' });
    expect(fact.scope).toEqual({ userId: 'ada' });
    const again = new RemoteSession({ agentUrl: server.url, sessionId: 'ada_2', userId: 'ada' });
    await again.chat('hello again');
    expect((await again.searchMemory('metric units')).map((hit) => hit.text)).toEqual([
      'Ada prefers metric units',
    ]);
    const bob = new RemoteSession({ agentUrl: server.url, sessionId: 'bob_1', userId: 'bob' });
    await bob.chat('hello');
    expect(await bob.searchMemory('metric units')).toEqual([]);
  });

  it('keeps a memory per principal when tokens speak for several principals', async () => {
    const server = await start(['--token', 'alice:alice-secret-1', '--token', 'bob:bob-secret-22']);
    expect(server.stdout()).toContain(
      `memory:    SQLite per principal (token), ${tmp.path}/@memory/{principal}-{hash}/`,
    );
    const as = (token: string, sessionId: string) =>
      new RemoteSession({
        agentUrl: server.url,
        sessionId,
        userId: 'same',
        headers: { Authorization: `Bearer ${token}` },
      });
    const alice = as('alice-secret-1', 'alice_1');
    await alice.chat('hello');
    await alice.addMemory('Alice keeps her door code 4711', { scope: 'user' });
    // Alice's other session of the same user sees her user-scoped memory...
    const aliceAgain = as('alice-secret-1', 'alice_2');
    await aliceAgain.chat('hello');
    expect((await aliceAgain.searchMemory('door code')).map((hit) => hit.text)).toEqual([
      'Alice keeps her door code 4711',
    ]);
    // ...bob's never does, though he names the same user id.
    const bob = as('bob-secret-22', 'bob_1');
    await bob.chat('hello');
    expect(await bob.searchMemory('door code')).toEqual([]);
    const answer = await bob.chat('What is the door code?');
    expect(answer).not.toContain('4711');
    await server.stop();
    const folders = await readdir(join(tmp.path, '@memory'));
    expect(folders.sort()).toEqual([
      expect.stringMatching(/^alice-[0-9a-f]{16}$/),
      expect.stringMatching(/^bob-[0-9a-f]{16}$/),
    ]);
    expect(existsSync(join(tmp.path, 'memory.sqlite'))).toBe(false);
  });

  it('uses the model that OPENAI_API_KEY and OPENAI_BASE_URL name', async () => {
    const server = await start(
      [],
      cleanEnv({ OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url, OPENAI_MODEL: 'demo-model' }),
    );
    expect(server.stdout()).not.toContain('OFFLINE');
    expect(server.stdout()).toContain(`demo-model at ${fake.url}`);
    fake.reply('Hello from the model');
    const answer = await ask(server.url, 'Hi');
    expect(answer.body.content).toBe('Hello from the model');
    expect(fake.chatRequests().at(-1)?.body.model).toBe('demo-model');
  });

  it('requires a token when given one, and refuses to bind a public address without', async () => {
    const secret = 'alice:0123456789abcdef0123';
    const server = await start(['--token', secret]);
    expect(server.stdout()).toContain('bearer tokens required');
    expect(server.stdout()).not.toContain('0123456789abcdef0123');
    expect((await ask(server.url, 'Hi')).status).toBe(401);
    const ok = await ask(server.url, 'Hi', { headers: { authorization: 'Bearer 0123456789abcdef0123' } });
    expect(ok.status).toBe(200);

    const refused = await runProcess(['--port', '0', '--host', '0.0.0.0', '--data-dir', tmp.path]);
    expect(refused.code).toBe(1);
    const lines = refused.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^error: Refusing to listen on 0\.0\.0\.0 without a token: .* Pass --token <principal>:<secret>/,
    );
  });

  it('reads its options from the environment', async () => {
    const server = await startServerProcess([], {
      env: cleanEnv({
        SESSIONS_PORT: '0',
        SESSIONS_DATA_DIR: tmp.path,
        SESSIONS_TOKENS: 'bob:fedcba9876543210',
      }),
    });
    running.push(server);
    expect(server.stdout()).toContain(`SQLite ${join(tmp.path, 'sessions.sqlite')}`);
    expect((await ask(server.url, 'Hi')).status).toBe(401);
  });

  it('explains bad options in one line, with a non-zero exit code', async () => {
    const badPort = await runProcess(['--port', 'eighty']);
    expect(badPort.code).not.toBe(0);
    expect(badPort.stderr.trim().split('\n')).toEqual([
      "error: option '-p, --port <port>' argument 'eighty' is invalid. use a number from 0 to 65535 (0: any free port)",
    ]);
    const badStore = await runProcess(['--port', '0', '--data-dir', tmp.path, '--store', 'mongodb://x']);
    expect(badStore.code).toBe(1);
    expect(badStore.stderr).toBe(
      'error: Unsupported session store "mongodb://x": use sqlite (the default: sessions.sqlite in the data folder), sqlite://FILE, redis://HOST:PORT, or fs (files in the data folder)\n',
    );
    const help = await runProcess(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: sessions-server [options]');
    expect(help.stdout).toContain('env: SESSIONS_PORT');
  });
});
