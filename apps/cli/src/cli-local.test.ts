// The built `sessions` command as a child process, on a local data folder in a temp dir: scripted
// chats (offline, and with a model through the environment), memory, knowledge, state, sessions.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  KnowledgeDocument,
  KnowledgeHit,
  MemoryHit,
  MemoryRecord,
  SessionSummary,
} from '@sessions/core';
import { OFFLINE_PREFIX } from '@sessions/server';
import { type FakeOpenAI, startFakeOpenAI, useTempDir } from '@sessions/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cleanEnv, oneErrorLine, runCli } from './cli-process.test-helper.js';
import type { SessionExport } from './session-export.js';

const tmp = useTempDir({ beforeEach, afterEach, prefix: 'sessions-cli-' });
let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(() => fake.close());
beforeEach(() => fake.reset());

/** `sessions ...args --data-dir <the test's temp dir>`. */
const cli = (args: string[], input?: string, env?: NodeJS.ProcessEnv) =>
  runCli([...args, '--data-dir', tmp.path], { ...(input !== undefined && { input }), ...(env && { env }) });

interface Reply {
  type: string;
  content?: string;
  result?: unknown;
}

describe('sessions chat (local)', () => {
  it('answers scripted lines offline, runs slash commands, stops at /exit, and remembers after a restart', async () => {
    const first = await cli(
      ['chat', '--session', 'chat_1', '--user', 'ada', '--json'],
      'Hello, my name is Ada\n/memory search name\n/state\n/context\n/agents\n/exit\nnever sent\n',
    );
    expect(first.code).toBe(0);
    const [reply, memory, state, context, agents, ...rest] = first.lines<Reply>();
    expect(rest).toEqual([]);
    expect(reply?.type).toBe('reply');
    expect(reply?.content?.startsWith(OFFLINE_PREFIX)).toBe(true);
    expect(((memory?.result ?? []) as MemoryHit[]).map((hit) => hit.text)).toContain('Hello, my name is Ada');
    expect(state).toEqual({ type: 'state', result: {} });
    expect(context?.result).toMatchObject({ sessionId: 'chat_1', userId: 'ada', messageCount: 2 });
    expect(agents).toEqual({ type: 'agents', result: ['Assistant'] });
    expect(first.stderr).toContain('OFFLINE mode');

    const second = await cli(['chat', '--session', 'chat_1', '--json'], 'What is my name?\n');
    expect(second.code).toBe(0);
    const [answer] = second.lines<Reply>();
    expect(answer?.content).toContain(OFFLINE_PREFIX);
    expect(answer?.content).toContain('my name is Ada');
    expect(second.stderr).toContain('Resuming: 2 messages so far');
    expect(existsSync(join(tmp.path, 'memory.sqlite'))).toBe(true); // one memory for all sessions
  });

  it('prints streamed answers as plain text and exits 0 at the end of input', async () => {
    const result = await cli(['chat'], 'hello\n\n/help\n');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`${OFFLINE_PREFIX} You said: "hello".`);
    expect(result.stdout).toContain('/memory add <text>');
    expect(result.stderr).toContain('session default');
  });

  it('streams the answers of the model the environment names', async () => {
    fake.reply({ content: 'Hello Ada, nice to meet you.', chunks: ['Hello ', 'Ada, ', 'nice to meet you.'] });
    const env = cleanEnv({
      OPENAI_API_KEY: fake.apiKey,
      OPENAI_BASE_URL: fake.url,
      OPENAI_MODEL: 'cli-model',
    });
    const result = await cli(['chat', '--json'], 'My name is Ada\n', env);
    expect(result.code).toBe(0);
    expect(result.lines<Reply>()).toEqual([
      { type: 'reply', sessionId: 'default', content: 'Hello Ada, nice to meet you.' },
    ]);
    expect(result.stderr).not.toContain('OFFLINE');
    const request = fake.chatRequests().at(-1)?.body;
    expect(request?.model).toBe('cli-model');
    expect(request?.stream).toBe(true);
  });

  it('reports a failed line, goes on, and exits 1', async () => {
    const result = await cli(['chat', '--json'], '/nope\nhello\n/memory add\n');
    expect(result.code).toBe(1);
    const lines = result.lines<Reply & { message?: string }>();
    expect(lines.map((line) => line.type)).toEqual(['error', 'reply', 'error']);
    expect(lines[0]?.message).toBe('Unknown command /nope: /help lists them');
    expect(result.stderr).toContain('error: Use /memory add <text>');
  });
});

describe('sessions memory, knowledge, state, sessions (local)', () => {
  it('adds, searches and lists memories', async () => {
    const added = await cli(['memory', 'add', 'User', 'prefers', 'technical', 'explanations', '--json']);
    expect(added.code).toBe(0);
    expect(added.json<MemoryRecord>()).toMatchObject({
      text: 'User prefers technical explanations',
      scope: { sessionId: 'default', userId: 'default_user' },
    });
    await cli(['memory', 'add', 'User lives in Lisbon']);
    const hits = (await cli(['memory', 'search', 'explanations', '--json'])).json<MemoryHit[]>();
    expect(hits[0]?.text).toBe('User prefers technical explanations');
    expect(hits[0]?.score).toBeGreaterThan(0);
    const list = await cli(['memory', 'list', '--json']);
    expect(list.json<MemoryRecord[]>().map((record) => record.text)).toEqual([
      'User prefers technical explanations',
      'User lives in Lisbon',
    ]);
    const human = await cli(['memory', 'search', 'Lisbon']);
    expect(human.stdout).toMatch(/^\d\.\d\d {2}User lives in Lisbon\n/);
  });

  it('adds files to knowledge, searches them with citations, lists them', async () => {
    const handbook = join(tmp.path, 'handbook.md');
    const notes = join(tmp.path, 'notes.txt');
    await writeFile(handbook, '# Handbook\n\n## Holidays\n\nEveryone gets 25 days of paid leave.\n');
    await writeFile(notes, 'The office opens at nine.\n\nLunch is at noon.\n');
    const added = await cli(['knowledge', 'add', handbook, notes, '--json']);
    expect(added.code).toBe(0);
    const documents = added.json<KnowledgeDocument[]>();
    expect(documents.map((doc) => doc.title)).toEqual(['Handbook', 'notes.txt']);

    const hits = (await cli(['knowledge', 'search', 'paid', 'leave', '--limit', '1', '--json'])).json<
      KnowledgeHit[]
    >();
    expect(hits).toHaveLength(1);
    expect(hits[0]).toMatchObject({ documentId: documents[0]?.id, title: 'Handbook', source: handbook });
    expect(hits[0]?.text).toContain('25 days of paid leave');

    const listed = (await cli(['knowledge', 'list', '--json'])).json<KnowledgeDocument[]>();
    expect(listed.map((doc) => doc.id)).toEqual(documents.map((doc) => doc.id));

    const answer = await cli(['chat', '--json'], 'how many days of paid leave?\n');
    expect(answer.lines<Reply>()[0]?.content).toMatch(/\[1\] \(Handbook.*\) .*25 days of paid leave/);
  });

  it('shows, exports and imports state', async () => {
    await cli(['chat', '--session', 'src', '--user', 'ada'], 'Hello, my name is Ada\nI like tea\n');
    const shown = await cli(['state', 'show', '--session', 'src', '--json']);
    expect(shown.json()).toMatchObject({ sessionId: 'src', userId: 'ada', messageCount: 4, state: {} });
    expect((await cli(['state', 'show', '--session', 'src'])).stdout).toContain('messages: 4');

    const file = join(tmp.path, 'src.json');
    const exported = await cli(['state', 'export', '--session', 'src', '--output', file]);
    expect(exported.code).toBe(0);
    const data = JSON.parse(await readFile(file, 'utf8')) as SessionExport;
    expect(data).toMatchObject({ format: 'sessions-export', version: 1, sessionId: 'src', userId: 'ada' });
    expect(data.messages.map((message) => message.content).slice(0, 1)).toEqual(['Hello, my name is Ada']);
    data.state = { topic: 'tea' };
    await writeFile(file, JSON.stringify(data));

    const imported = await cli(['state', 'import', file, '--session', 'copy', '--json']);
    expect(imported.code).toBe(0);
    expect(imported.json()).toEqual({ sessionId: 'copy', messages: 4, state: { topic: 'tea' } });
    const copy = (await cli(['state', 'show', '--session', 'copy', '--json'])).json();
    expect(copy).toMatchObject({
      sessionId: 'copy',
      userId: 'ada',
      messageCount: 4,
      state: { topic: 'tea' },
    });
    const toStdout = await cli(['state', 'export', '--session', 'copy']);
    expect(toStdout.json<SessionExport>().messages).toEqual(data.messages);

    const again = await cli(['state', 'import', file, '--session', 'copy']);
    expect(again.code).toBe(1);
    expect(oneErrorLine(again)).toBe(
      'error: Session "copy" already has 4 messages: import into a new one with --session <id>, or only the state with --state-only',
    );
    const stateOnly = await cli(['state', 'import', file, '--session', 'copy', '--state-only', '--json']);
    expect(stateOnly.json()).toMatchObject({ messages: 0 });

    await writeFile(file, '{"format":"other"}');
    const bad = await cli(['state', 'import', file]);
    expect(bad.code).toBe(1);
    expect(oneErrorLine(bad)).toBe(
      `error: ${file} is not a session export (made by \`sessions state export\`)`,
    );
  });

  it('lists and deletes sessions', async () => {
    await cli(['chat', '--session', 'one', '--user', 'ada'], 'hi\n');
    await cli(['chat', '--session', 'two', '--user', 'bob'], 'hi\n');
    const all = (await cli(['sessions', 'list', '--json'])).json<SessionSummary[]>();
    expect(all.map((row) => [row.sessionId, row.userId])).toEqual([
      ['one', 'ada'],
      ['two', 'bob'],
    ]);
    const ada = (await cli(['sessions', 'list', '--user', 'ada', '--json'])).json<SessionSummary[]>();
    expect(ada.map((row) => row.sessionId)).toEqual(['one']);
    expect((await cli(['sessions', 'list'])).stdout).toMatch(
      /^SESSION\s+USER\s+UPDATED\none\s+ada\s+\S+\ntwo/,
    );

    const deleted = await cli(['sessions', 'delete', 'one', '--json']);
    expect(deleted.json()).toEqual({ deleted: ['one'] });
    expect(existsSync(join(tmp.path, 'one'))).toBe(false);
    expect((await cli(['sessions', 'list', '--json'])).json<SessionSummary[]>()).toHaveLength(1);
    const missing = await cli(['sessions', 'delete', 'one']);
    expect(missing.code).toBe(1);
    expect(oneErrorLine(missing)).toMatch(/^error: Session "one" not found in /);
  });
});

describe('errors and help', () => {
  it('prints one error line and exits 1, with the stack only under --debug', async () => {
    const badId = await cli(['state', 'show', '--session', '../x']);
    expect(badId.code).toBe(1);
    expect(oneErrorLine(badId)).toBe(
      'error: Invalid session id "../x": use 1-128 characters from [A-Za-z0-9._-], not "." or ".."',
    );
    expect(badId.stdout).toBe('');
    const debug = await cli(['state', 'show', '--session', '../x', '--debug']);
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/^error: Invalid session id[^\n]*\nInvalidInputError: [^\n]*\n\s+at /);

    const unknown = await cli(['memory', 'list', '--session', 'nobody']);
    expect(unknown.code).toBe(1);
    expect(oneErrorLine(unknown)).toMatch(/^error: Session "nobody" not found in .*sessions sessions list/);
    expect(existsSync(join(tmp.path, 'nobody'))).toBe(false); // reading never creates a session

    const noFile = await cli(['knowledge', 'add', join(tmp.path, 'missing.md')]);
    expect(noFile.code).toBe(1);
    expect(oneErrorLine(noFile)).toContain('missing.md');
  });

  it('exits 2 on usage errors, with commander one-line messages', async () => {
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(oneErrorLine(unknown)).toBe("error: unknown command 'frobnicate'");
    const missing = await runCli(['memory', 'add']);
    expect(missing.code).toBe(2);
    expect(oneErrorLine(missing)).toBe("error: missing required argument 'text'");
    const limit = await runCli(['memory', 'search', 'x', '--limit', '0']);
    expect(limit.code).toBe(2);
    expect(oneErrorLine(limit)).toContain('use a whole number from 1 to 1000');
  });

  it('has help everywhere', async () => {
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    for (const command of ['chat', 'memory', 'knowledge', 'state', 'sessions', 'serve', 'demo']) {
      expect(top.stdout).toContain(`  ${command}`);
    }
    const commands = [
      ['chat'],
      ['memory', 'add'],
      ['memory', 'search'],
      ['memory', 'list'],
      ['knowledge', 'add'],
      ['knowledge', 'search'],
      ['knowledge', 'list'],
      ['state', 'show'],
      ['state', 'export'],
      ['state', 'import'],
      ['sessions', 'list'],
      ['sessions', 'delete'],
      ['serve'],
      ['demo'],
    ];
    const results = await Promise.all(commands.map((command) => runCli([...command, '--help'])));
    for (const [index, result] of results.entries()) {
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`Usage: sessions ${commands[index]!.join(' ')}`);
    }
    expect(results[0]?.stdout).toContain('/memory add <text>');
    expect(results[0]?.stdout).toContain('env: SESSIONS_REMOTE');
    expect(results[2]?.stdout).toContain('--json');
  });
});
