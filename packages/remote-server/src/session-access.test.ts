import { type HistoryCursor, MemorySessionStore, type StoredTail } from '@sessions/core';
import { describe, expect, it } from 'vitest';
import { captureTurnResult } from './agent-turns.js';
import { SessionAccess } from './session-access.js';

const model = { generate: async () => ({ content: 'ok' }), stream: async function* () {} };

/** A MemorySessionStore that records the cursors `loadSince` was asked with. */
class Recording extends MemorySessionStore {
  readonly cursors: Array<HistoryCursor | undefined> = [];
  override async loadSince(sessionId: string, cursor?: HistoryCursor): Promise<StoredTail | undefined> {
    this.cursors.push(cursor);
    return super.loadSince(sessionId, cursor);
  }
}

async function turn(access: SessionAccess, sessionId: string): Promise<void> {
  const session = await access.open('alice', sessionId, { create: true, live: true });
  await session.Agent({ name: 'A' }).chat('hello');
}

describe('SessionAccess', () => {
  it('keeps a session between turns: its next turn reads only after its cursor', async () => {
    const store = new Recording();
    const access = new SessionAccess({ store, model, middleware: [captureTurnResult] });
    await turn(access, 's');
    await turn(access, 's');
    await turn(access, 's');
    expect(access.liveCount).toBe(1);
    // The first read found nothing (and made it); then each turn reads after what it holds. The
    // second read learns the history's epoch, so the third continues it.
    expect(store.cursors.map((cursor) => cursor?.seq)).toEqual([undefined, 2, 4]);
    expect(store.cursors[2]?.epoch).not.toBe('');
  });

  it('drops a kept session whose history outgrew the messages the kept sessions may hold', async () => {
    const store = new Recording();
    const access = new SessionAccess({ store, model, liveMessages: 5 });
    await turn(access, 'long');
    await turn(access, 'long');
    await turn(access, 'long'); // 4 messages held when opened: still kept
    expect(access.liveCount).toBe(1);
    await turn(access, 'long'); // 6 messages now: no longer kept
    expect(access.liveCount).toBe(0);
    store.cursors.length = 0;
    await turn(access, 'long');
    // Opened the ordinary way (a whole load), and not kept again.
    expect(store.cursors).toEqual([undefined]);
    expect(access.liveCount).toBe(0);
    expect((await store.load('long'))?.messages).toHaveLength(10);
  });

  it('keeps the most recently used sessions within liveSessions', async () => {
    const access = new SessionAccess({ store: new MemorySessionStore(), model, liveSessions: 2 });
    for (const id of ['a', 'b', 'c']) await turn(access, id);
    expect(access.liveCount).toBe(2);
  });

  it('keeps nothing for a store without loadSince', async () => {
    const memory = new MemorySessionStore();
    const store = {
      load: memory.load.bind(memory),
      append: memory.append.bind(memory),
      saveState: memory.saveState.bind(memory),
      list: memory.list.bind(memory),
      delete: memory.delete.bind(memory),
    };
    const access = new SessionAccess({ store, model });
    await turn(access, 's');
    await turn(access, 's');
    expect(access.liveCount).toBe(0);
    expect((await memory.load('s'))?.messages).toHaveLength(4);
  });
});
