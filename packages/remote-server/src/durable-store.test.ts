import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsSessionStore } from '@sessions/state-fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './server-harness.test-helper.js';

let root: string;
const harnesses: Harness[] = [];
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'remote-server-fs-'));
});
afterEach(async () => {
  for (const harness of harnesses.splice(0)) await harness.close();
  rmSync(root, { recursive: true, force: true });
});

describe('remote turns on a durable store', () => {
  it('has the turn on disk when the answer returns', async () => {
    const harness = await startHarness({ store: new FsSessionStore({ root }) });
    harnesses.push(harness);
    harness.fake.reply('Stored before you read this');
    const { status } = await harness.agent({ message: 'Remember this', session_id: 'durable' });
    expect(status).toBe(200);
    const lines = readFileSync(join(root, 'durable', 'messages.jsonl'), 'utf8');
    expect(lines).toContain('Remember this');
    expect(lines).toContain('Stored before you read this');
  });

  it('lets two servers on one store continue one session: no stale history in either', async () => {
    const first = await startHarness({ store: new FsSessionStore({ root }) });
    const second = await startHarness({ store: new FsSessionStore({ root }) });
    harnesses.push(first, second);
    await first.agent({ message: 'one', session_id: 'shared' });
    await second.agent({ message: 'two', session_id: 'shared' });
    await first.agent({ message: 'three', session_id: 'shared' });
    // The third turn, on the first server, saw the second server's turn.
    const sent = first.fake.chatRequests()[1]!.body.messages.map((m) => m.content);
    expect(sent).toEqual(expect.arrayContaining(['one', 'echo: one', 'two', 'echo: two', 'three']));
    const page = await second.call('/sessions/shared/messages');
    expect(page.body.messages.map((m: { content: string }) => m.content)).toEqual([
      'one',
      'echo: one',
      'two',
      'echo: two',
      'three',
      'echo: three',
    ]);
  });

  it('loses no message when many turns hit one session at once', async () => {
    const harness = await startHarness({ store: new FsSessionStore({ root }) });
    harnesses.push(harness);
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, n) => harness.agent({ message: `turn ${n}`, session_id: 'busy' })),
    );
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    const page = await harness.call('/sessions/busy/messages');
    expect(page.body.total).toBe(24);
    const users = page.body.messages
      .filter((m: { role: string }) => m.role === 'user')
      .map((m: { content: string }) => m.content);
    expect(users.sort()).toEqual(Array.from({ length: 12 }, (_, n) => `turn ${n}`).sort());
  });
});
