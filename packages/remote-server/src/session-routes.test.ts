import { afterEach, describe, expect, it } from 'vitest';
import { TestMemory } from './ports.test-helper.js';
import { type Harness, startHarness } from './server-harness.test-helper.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('session routes', () => {
  it('GET /sessions/{id} answers the context, as getContext() does', async () => {
    harness = await startHarness();
    await harness.agent({ message: 'Hello', session_id: 'ctx-1', user_id: 'user_456' });
    const { status, body } = await harness.call('/sessions/ctx-1');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      sessionId: 'ctx-1',
      userId: 'user_456',
      messageCount: 2,
      agents: ['Remote Assistant'],
    });
    expect(Date.parse(body.createdAt)).not.toBeNaN();
    expect((await harness.call('/sessions/unknown')).status).toBe(404);
  });

  it('pages the history with offset and limit, and says where the next page starts', async () => {
    harness = await startHarness();
    for (const n of [1, 2, 3]) await harness.agent({ message: `message ${n}`, session_id: 'paged' });
    const first = await harness.call('/sessions/paged/messages?limit=4');
    expect(first.body).toMatchObject({ total: 6, offset: 0, limit: 4, nextOffset: 4 });
    expect(first.body.messages.map((m: { content: string }) => m.content)).toEqual([
      'message 1',
      'echo: message 1',
      'message 2',
      'echo: message 2',
    ]);
    const second = await harness.call(`/sessions/paged/messages?offset=${first.body.nextOffset}&limit=4`);
    expect(second.body).toMatchObject({ total: 6, offset: 4, nextOffset: null });
    expect(second.body.messages).toHaveLength(2);
    expect(second.body.messages[1]).toMatchObject({ role: 'assistant', name: 'Remote Assistant' });
    const all = await harness.call('/sessions/paged/messages');
    expect(all.body).toMatchObject({ limit: 100, nextOffset: null });
    expect(all.body.messages).toHaveLength(6);
    for (const bad of ['limit=0', 'limit=1001', 'offset=-1', 'limit=abc']) {
      expect((await harness.call(`/sessions/paged/messages?${bad}`)).status, bad).toBe(400);
    }
  });

  it('DELETE /sessions/{id} answers 204, clears its memory and calls onSessionDelete; then it is gone', async () => {
    const memory = new TestMemory();
    const deleted: string[] = [];
    harness = await startHarness({ memory: () => memory, onSessionDelete: (id) => void deleted.push(id) });
    await harness.agent({ message: 'Hi', session_id: 'doomed' });
    await harness.call('/sessions/doomed/memory', { json: { text: 'Likes tea' } });
    await harness.call('/sessions/kept/memory', { json: { text: 'Likes coffee' } });
    const response = await harness.request('/sessions/doomed', { method: 'DELETE' });
    expect(response.status).toBe(204);
    expect(await response.text()).toBe('');
    expect(await harness.store.load('doomed')).toBeUndefined();
    expect([...memory.records.values()].map((r) => r.text)).toEqual(['Likes coffee']);
    expect(deleted).toEqual(['doomed']);
    expect((await harness.call('/sessions/doomed')).status).toBe(404);
    expect((await harness.call('/sessions/doomed', { method: 'DELETE' })).status).toBe(404);
  });

  it('reads and merges the user state like saveState, with PATCH and PUT', async () => {
    harness = await startHarness();
    const put = await harness.call('/sessions/st/state', {
      method: 'PUT',
      json: { topic: 'AI research', step: 1 },
    });
    expect(put).toMatchObject({ status: 200, body: { state: { topic: 'AI research', step: 1 } } });
    const patch = await harness.call('/sessions/st/state', {
      method: 'PATCH',
      json: { step: 2, tags: ['a'] },
    });
    expect(patch.body.state).toEqual({ topic: 'AI research', step: 2, tags: ['a'] });
    expect((await harness.call('/sessions/st/state')).body.state).toEqual({
      topic: 'AI research',
      step: 2,
      tags: ['a'],
    });
    // The state lives with the session: a turn keeps it, the context counts the messages.
    await harness.agent({ message: 'Hi', session_id: 'st' });
    expect((await harness.call('/sessions/st/state')).body.state.topic).toBe('AI research');
    for (const bad of ['[1]', '"x"', '{oops']) {
      const response = await harness.request('/sessions/st/state', {
        method: 'PATCH',
        body: bad,
        headers: { 'content-type': 'application/json' },
      });
      expect(response.status, bad).toBe(400);
    }
    expect((await harness.call('/sessions/none/state')).status).toBe(404);
  });

  it('increments a state value atomically, as incrementState does', async () => {
    harness = await startHarness();
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        harness!.call('/sessions/counter/state/visits/increment', { method: 'POST' }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(results.map((r) => r.body.value).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const byFive = await harness.call('/sessions/counter/state/score/increment', {
      json: { by: 5, default: 100 },
    });
    expect(byFive.body).toEqual({ key: 'score', value: 105 });
    expect((await harness.call('/sessions/counter/state')).body.state).toEqual({ visits: 10, score: 105 });
    await harness.call('/sessions/counter/state', { method: 'PATCH', json: { name: 'text' } });
    const notNumber = await harness.call('/sessions/counter/state/name/increment', { method: 'POST' });
    expect(notNumber.status).toBe(400);
    expect(notNumber.body.error.message).toMatch(/not a number/);
  });

  it('keeps concurrent state merges of one session from losing keys', async () => {
    harness = await startHarness();
    await Promise.all(
      Array.from({ length: 8 }, (_, n) =>
        harness!.call('/sessions/merge/state', { method: 'PATCH', json: { [`k${n}`]: n } }),
      ),
    );
    const { state } = (await harness.call('/sessions/merge/state')).body;
    expect(Object.keys(state).sort()).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7']);
  });
});
