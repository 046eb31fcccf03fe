import { Session } from '@sessions/core';
import { afterEach, describe, expect, it } from 'vitest';
import { bearerAuthenticator } from './bearer-auth.js';
import { type Harness, startHarness } from './server-harness.test-helper.js';

describe('bearerAuthenticator', () => {
  const authenticate = bearerAuthenticator({ tokens: { 'alice-secret': 'alice', 'bob-secret': 'bob' } });

  it('finds the principal of a known bearer token', () => {
    expect(authenticate('Bearer alice-secret')).toBe('alice');
    expect(authenticate('bearer bob-secret')).toBe('bob');
    expect(authenticate('Bearer  bob-secret ')).toBe('bob');
  });

  it('finds nothing for a missing, malformed, unknown or partial token', () => {
    for (const header of [
      undefined,
      '',
      'alice-secret',
      'Basic alice-secret',
      'Bearer',
      'Bearer alice',
      'Bearer alice-secretX',
      'Bearer alice-secret extra',
      'Bearer bob-secre',
      'Bearer bob-secretXY',
      `Bearer ${'x'.repeat(5000)}`,
    ]) {
      expect(authenticate(header), String(header)).toBeUndefined();
    }
  });

  it('tells apart tokens of different lengths, one the start of another', () => {
    const check = bearerAuthenticator({
      tokens: { t: 'short', 'token-long-1': 'long', 'token-long-12': 'longer' },
    });
    expect(check('Bearer t')).toBe('short');
    expect(check('Bearer token-long-1')).toBe('long');
    expect(check('Bearer token-long-12')).toBe('longer');
    expect(check('Bearer token-long-')).toBeUndefined();
    expect(check('Bearer tt')).toBeUndefined();
    expect(check('Bearer token-long-123')).toBeUndefined();
  });

  it('refuses an empty token table and bad entries', () => {
    expect(() => bearerAuthenticator({ tokens: {} })).toThrow(/empty/);
    expect(() => bearerAuthenticator({ tokens: { 'has space': 'x' } })).toThrow(/token/);
    expect(() => bearerAuthenticator({ tokens: { t: '' } })).toThrow(/principal/);
  });
});

describe('auth over the wire', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  const tokens = { 'alice-token': 'alice', 'bob-token': 'bob' };

  it('answers 401 without a token or with a wrong one; /health needs none', async () => {
    harness = await startHarness({ auth: { tokens } });
    const none = await harness.agent({ message: 'Hi' });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthorized');
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const wrong = await harness.agent({ message: 'Hi' }, { token: 'alice-token-guess' });
    expect(wrong.status).toBe(401);
    const sessions = await harness.call('/sessions/anything');
    expect(sessions.status).toBe(401);
    expect(harness.fake.chatRequests()).toHaveLength(0);
    const health = await harness.call('/health');
    expect(health).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('keeps a session to the principal that created it: every other principal gets 404 on every route', async () => {
    harness = await startHarness({ auth: { tokens } });
    const created = await harness.agent(
      { message: 'Secret plans', session_id: 'alice-chat' },
      { token: 'alice-token' },
    );
    expect(created.status).toBe(200);
    const stored = await harness.store.load('alice-chat');
    expect(stored?.state?.metadata).toEqual({ owner: 'alice' });

    const asBob = { token: 'bob-token' };
    const attempts = [
      harness.agent({ message: 'Let me in', session_id: 'alice-chat' }, asBob),
      harness.call('/sessions/alice-chat', asBob),
      harness.call('/sessions/alice-chat/messages', asBob),
      harness.call('/sessions/alice-chat/state', asBob),
      harness.call('/sessions/alice-chat/state', { ...asBob, method: 'PATCH', json: { hijacked: true } }),
      harness.call('/sessions/alice-chat/state/visits/increment', { ...asBob, method: 'POST' }),
      harness.call('/sessions/alice-chat', { ...asBob, method: 'DELETE' }),
    ];
    for (const answer of await Promise.all(attempts)) {
      expect(answer.status).toBe(404);
      expect(answer.body.error).toMatchObject({
        code: 'not_found',
        message: 'Session "alice-chat" not found',
      });
    }
    // Alice still has her session, untouched.
    const mine = await harness.call('/sessions/alice-chat/messages', { token: 'alice-token' });
    expect(mine.body.total).toBe(2);
    expect((await harness.call('/sessions/alice-chat/state', { token: 'alice-token' })).body.state).toEqual(
      {},
    );
    // Bob's own session of another id works.
    expect((await harness.agent({ message: 'Mine', session_id: 'bob-chat' }, asBob)).status).toBe(200);
    expect((await harness.call('/sessions/bob-chat', { token: 'alice-token' })).status).toBe(404);
  });

  it('answers 404 alike for a session that does not exist and one of another principal', async () => {
    harness = await startHarness({ auth: { tokens } });
    await harness.agent({ message: 'x', session_id: 'taken' }, { token: 'alice-token' });
    const others = await harness.call('/sessions/taken', { token: 'bob-token' });
    const missing = await harness.call('/sessions/never-made', { token: 'bob-token' });
    expect(others.status).toBe(missing.status);
    expect(others.body.error.code).toBe(missing.body.error.code);
  });

  it('without auth, every request is anonymous; sessions made outside the server belong to anonymous', async () => {
    harness = await startHarness();
    const local = new Session({ sessionId: 'made-locally', store: harness.store, model: harness.model });
    await local.saveState({ topic: 'AI research' });
    const context = await harness.call('/sessions/made-locally');
    expect(context.status).toBe(200);
    expect((await harness.call('/sessions/made-locally/state')).body.state).toEqual({ topic: 'AI research' });
    await harness.agent({ message: 'Hi', session_id: 'served' });
    expect((await harness.store.load('served'))?.state?.metadata).toEqual({ owner: 'anonymous' });
  });

  it('with auth, a session made outside the server (no owner) is invisible to every token', async () => {
    harness = await startHarness({ auth: { tokens } });
    const local = new Session({ sessionId: 'ownerless', store: harness.store, model: harness.model });
    await local.saveState({ x: 1 });
    expect((await harness.call('/sessions/ownerless', { token: 'alice-token' })).status).toBe(404);
    expect(
      (await harness.agent({ message: 'Hi', session_id: 'ownerless' }, { token: 'alice-token' })).status,
    ).toBe(404);
  });

  it('lets only one principal claim a new session id when two race for it', async () => {
    harness = await startHarness({ auth: { tokens } });
    const [alice, bob] = await Promise.all([
      harness.call('/sessions/contested/state', {
        method: 'PATCH',
        json: { by: 'alice' },
        token: 'alice-token',
      }),
      harness.call('/sessions/contested/state', { method: 'PATCH', json: { by: 'bob' }, token: 'bob-token' }),
    ]);
    expect([alice.status, bob.status].sort()).toEqual([200, 404]);
    const winner = alice.status === 200 ? 'alice' : 'bob';
    const stored = await harness.store.load('contested');
    expect(stored?.state?.metadata).toEqual({ owner: winner });
    expect(stored?.state?.data).toEqual({ by: winner });
  });
});
