import { Memory } from '@sessions/memory';
import { describe, expect, it } from 'vitest';
import { hideMemories } from './hide-memories.js';

describe('hideMemories', () => {
  it('hides picked memories from search only, and still fills the limit past many hidden ones', async () => {
    const memory = new Memory();
    const scope = { userId: 'u', sessionId: 's' };
    for (let i = 0; i < 40; i += 1) await memory.add(`[offline] answer about my name ${i}`, scope);
    await memory.add('my name is Ada', scope);
    await memory.add('my name is spelled A-d-a', scope);
    const view = hideMemories(memory, (record) => record.text.startsWith('[offline]'));

    const hits = await view.search('name', { scope, limit: 2 });
    expect(hits.map((hit) => hit.text).sort()).toEqual(['my name is Ada', 'my name is spelled A-d-a']);
    expect(await view.list(scope)).toHaveLength(42);
    expect((await memory.search('name', { scope, limit: 2 })).length).toBe(2);
    await expect(view.search('name', { limit: 0 })).rejects.toThrow(/limit/);
    expect(await view.clear(scope)).toBe(42);
    await memory.close();
  });
});
