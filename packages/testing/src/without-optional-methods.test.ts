import { MemorySessionStore } from '@sessions/core';
import { describe, expect, it } from 'vitest';
import { testMessage, testState, withoutOptionalMethods } from './index.js';

describe('withoutOptionalMethods', () => {
  it('keeps the required methods, on the same backend', async () => {
    const memory = new MemorySessionStore();
    const view = withoutOptionalMethods(memory);
    expect(view.loadSince).toBeUndefined();
    expect(view.updateState).toBeUndefined();
    expect(await view.append('s1', [testMessage(1)])).toEqual({ seq: 1 });
    await view.saveState('s1', testState('s1'));
    expect(await memory.load('s1')).toEqual({ state: testState('s1'), messages: [testMessage(1)] });
    expect(await view.load('s1')).toEqual(await memory.load('s1'));
    const ids: string[] = [];
    for await (const row of view.list()) ids.push(row.sessionId);
    expect(ids).toEqual(['s1']);
    await view.delete('s1');
    expect(await memory.load('s1')).toBeUndefined();
  });

  it('keeps the optional methods named in keep, bound to the store', async () => {
    const memory = new MemorySessionStore();
    const view = withoutOptionalMethods(memory, { keep: ['loadSince'] });
    expect(view.updateState).toBeUndefined();
    await memory.append('s1', [testMessage(1)]);
    expect(await view.loadSince?.('s1')).toMatchObject({ messages: [testMessage(1)], from: 0, seq: 1 });

    const both = withoutOptionalMethods(memory, { keep: ['loadSince', 'updateState'] });
    await both.updateState?.('s1', () => testState('s1', { data: { n: 1 } }));
    expect((await memory.load('s1'))?.state).toEqual(testState('s1', { data: { n: 1 } }));
  });

  it('does not add a kept method the store lacks', () => {
    const bare = withoutOptionalMethods(new MemorySessionStore());
    expect(withoutOptionalMethods(bare, { keep: ['loadSince', 'updateState'] })).not.toHaveProperty(
      'loadSince',
    );
  });
});
