// The built `sessions` command against the demo server (`sessions serve`, a child process on an
// ephemeral port, data in a temp dir): remote chat, memory, knowledge, state, auth and failures.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KnowledgeDocument, KnowledgeHit, MemoryHit, MemoryRecord } from '@sessions/core';
import { OFFLINE_PREFIX } from '@sessions/server';
import { useTempDir } from '@sessions/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ServerProcess } from '../../server/src/server-process.test-helper.js';
import { oneErrorLine, runCli, startCliServer } from './cli-process.test-helper.js';

const tmp = useTempDir({ beforeEach, afterEach, prefix: 'sessions-cli-remote-' });
const servers: ServerProcess[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

async function serve(args: string[] = []): Promise<ServerProcess> {
  const server = await startCliServer(['--data-dir', join(tmp.path, 'server'), ...args]);
  servers.push(server);
  return server;
}

interface Reply {
  type: string;
  content?: string;
  result?: unknown;
}

describe('sessions chat --remote', () => {
  it('chats with the demo server offline and is remembered after the server restarts', async () => {
    const first = await serve();
    expect(first.stdout()).toContain(`sessions chat --remote ${first.url}`);
    const hello = await runCli(['chat', '--remote', first.url, '--session', 'ada_chat', '--json'], {
      input: 'Hello, my name is Ada\n/context\n/exit\n',
    });
    expect(hello.code).toBe(0);
    const [reply, context] = hello.lines<Reply>();
    expect(reply?.content?.startsWith(OFFLINE_PREFIX)).toBe(true);
    expect(context?.result).toMatchObject({ sessionId: 'ada_chat', messageCount: 2, agents: ['Assistant'] });
    expect(hello.stderr).toContain(`remote ${first.url}/agent`);
    expect(await first.stop()).toBe(0);

    const second = await serve();
    const again = await runCli(['chat', '--remote', second.url, '--session', 'ada_chat', '--json'], {
      input: 'What is my name?\n',
    });
    expect(again.code).toBe(0);
    expect(again.lines<Reply>()[0]?.content).toContain('my name is Ada');
    expect(again.stderr).toContain('Resuming: 2 messages so far');
  });

  it('manages memory, knowledge, state and sessions on the server', async () => {
    const server = await serve();
    const remote = ['--remote', server.url, '--session', 'kb'];
    const added = await runCli(['memory', 'add', 'User prefers short answers', ...remote, '--json']);
    expect(added.code).toBe(0);
    expect(added.json<MemoryRecord>().text).toBe('User prefers short answers');
    expect(
      (await runCli(['memory', 'search', 'short', ...remote, '--json'])).json<MemoryHit[]>()[0]?.text,
    ).toBe('User prefers short answers');
    expect((await runCli(['memory', 'list', ...remote, '--json'])).json<MemoryRecord[]>()).toHaveLength(1);

    const file = join(tmp.path, 'office.md');
    await writeFile(file, '# Office\n\nThe office opens at nine every weekday.\n');
    const documents = (await runCli(['knowledge', 'add', file, ...remote, '--json'])).json<
      KnowledgeDocument[]
    >();
    expect(documents.map((doc) => doc.title)).toEqual(['Office']);
    const hits = (await runCli(['knowledge', 'search', 'office', 'opens', ...remote, '--json'])).json<
      KnowledgeHit[]
    >();
    expect(hits[0]?.text).toContain('opens at nine');
    expect(hits[0]?.source).not.toContain(tmp.path); // the path stays here; only the file travels
    expect(
      (await runCli(['knowledge', 'list', ...remote, '--json'])).json<KnowledgeDocument[]>(),
    ).toHaveLength(1);

    const exportFile = join(tmp.path, 'kb.json');
    await runCli(['chat', ...remote], { input: 'When does the office open?\n' });
    expect((await runCli(['state', 'export', ...remote, '-o', exportFile])).code).toBe(0);
    const history = await runCli(['state', 'import', exportFile, ...remote]);
    expect(history.code).toBe(1);
    expect(oneErrorLine(history)).toMatch(/^error: A remote server takes no history over the wire/);
    const stateOnly = await runCli(['state', 'import', exportFile, ...remote, '--state-only', '--json']);
    expect(stateOnly.code).toBe(0);
    const shown = (await runCli(['state', 'show', ...remote, '--json'])).json();
    expect(shown).toMatchObject({ sessionId: 'kb', messageCount: 2, state: {} });

    const deleted = await runCli(['sessions', 'delete', 'kb', '--remote', server.url, '--json']);
    expect(deleted.json()).toEqual({ deleted: ['kb'] });
    const gone = await runCli(['state', 'show', ...remote]);
    expect(gone.code).toBe(1);
    expect(oneErrorLine(gone)).toMatch(/^error: Session "kb" not found/);
  });

  it('needs the token of a server that has them', async () => {
    const secret = 'fedcba9876543210fedcba';
    const server = await serve(['--token', `ada:${secret}`]);
    const refused = await runCli(['chat', '--remote', server.url], { input: 'hi\n' });
    expect(refused.code).toBe(1);
    expect(oneErrorLine(refused)).toMatch(/^error: Missing or unknown bearer token/);
    const ok = await runCli(['chat', '--remote', server.url, '--token', secret, '--json'], { input: 'hi\n' });
    expect(ok.code).toBe(0);
    expect(ok.lines<Reply>()[0]?.content).toContain(OFFLINE_PREFIX);
  });

  it('says in one line when the server cannot be reached', async () => {
    const server = await serve();
    await server.stop();
    const result = await runCli(['chat', '--remote', server.url], { input: 'hi\n' });
    expect(result.code).toBe(1);
    expect(oneErrorLine(result)).toMatch(
      /^error: Cannot reach agent at http:\/\/127\.0\.0\.1:\d+\/.*connection refused/,
    );
  });
});
