import { afterEach, describe, expect, it } from 'vitest';
import { addressKey, RateLimiter } from './rate-limiter.js';
import { type Harness, startHarness } from './server-harness.test-helper.js';

describe('RateLimiter', () => {
  it('allows `limit` requests per window per key, then says when to retry', () => {
    let now = 1_000_000;
    const limiter = new RateLimiter({ limit: 3, windowMs: 1_000 }, () => now);
    expect([1, 2, 3].map(() => limiter.take('alice').allowed)).toEqual([true, true, true]);
    const refused = limiter.take('alice');
    expect(refused).toEqual({ allowed: false, retryAfterMs: 1_000 });
    expect(limiter.take('bob').allowed).toBe(true);
    now += 1_000; // the next window: the previous one still weighs fully at its start
    expect(limiter.take('alice').allowed).toBe(false);
    now += 500; // half of the previous window's count is left: 1.5 of 3
    expect(limiter.take('alice').allowed).toBe(true);
    now += 2_000; // long idle: a fresh start
    expect([1, 2, 3].map(() => limiter.take('alice').allowed)).toEqual([true, true, true]);
  });

  it('computes a retry time after which a request is allowed', () => {
    let now = 5_000;
    const limiter = new RateLimiter({ limit: 4, windowMs: 1_000 }, () => now);
    for (const at of [5_000, 5_300, 5_600, 5_900]) {
      now = at;
      limiter.take('k');
    }
    now = 6_100;
    const refused = limiter.take('k');
    expect(refused.allowed).toBe(false);
    if (refused.allowed) return;
    now += refused.retryAfterMs - 1;
    expect(limiter.take('k').allowed).toBe(false);
    now += 1;
    expect(limiter.take('k').allowed).toBe(true);
  });

  it('lets a full limit through once a burst is more than a window ago', () => {
    let now = 10_000;
    const limiter = new RateLimiter({ limit: 3, windowMs: 2_000 }, () => now);
    for (const at of [10_000, 10_050, 10_100]) {
      now = at;
      expect(limiter.take('k').allowed).toBe(true);
    }
    now = 12_050; // the next fixed window; the burst is still within the last 2 s
    const refused = limiter.take('k');
    expect(refused).toEqual({ allowed: false, retryAfterMs: 51 });
    now = 12_100;
    expect(limiter.take('k').allowed).toBe(false);
    now = 12_101; // the whole burst is more than 2 s ago
    expect([1, 2, 3, 4].map(() => limiter.take('k').allowed)).toEqual([true, true, true, false]);
  });

  it('counts at most maxKeys keys, dropping the one counted first', () => {
    const limiter = new RateLimiter({ limit: 1, windowMs: 60_000 }, () => 1_000, 2);
    expect(limiter.take('a').allowed).toBe(true);
    expect(limiter.take('b').allowed).toBe(true);
    expect(limiter.take('a').allowed).toBe(false);
    expect(limiter.take('c').allowed).toBe(true); // drops a
    expect(limiter.take('b').allowed).toBe(false);
    expect(limiter.take('a').allowed).toBe(true); // counted afresh, drops b
  });

  it('keys IPv4 addresses as they are and IPv6 ones by their /64', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey(undefined)).toBe('');
  });

  it('refuses bad options', () => {
    expect(() => new RateLimiter({ limit: 0, windowMs: 1_000 })).toThrow(/limit/);
    expect(() => new RateLimiter({ limit: 1, windowMs: 0 })).toThrow(/windowMs/);
  });
});

describe('rate limit over the wire', () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  it('answers 429 with Retry-After per principal; /health is not counted', async () => {
    harness = await startHarness({
      rateLimit: { limit: 2, windowMs: 60_000 },
      auth: { tokens: { a: 'alice', b: 'bob' } },
    });
    for (let i = 0; i < 3; i++) expect((await harness.call('/health')).status).toBe(200);
    expect((await harness.agent({ message: '1' }, { token: 'a' })).status).toBe(200);
    expect((await harness.call('/sessions/x', { token: 'a' })).status).toBe(404);
    const refused = await harness.agent({ message: '3' }, { token: 'a' });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('rate_limited');
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect((await harness.agent({ message: 'mine' }, { token: 'b' })).status).toBe(200);
    expect(harness.fake.chatRequests()).toHaveLength(2);
  });

  it('counts requests without a valid token per client address: 401 up to the limit, then 429', async () => {
    harness = await startHarness({
      rateLimit: { limit: 2, windowMs: 60_000 },
      auth: { tokens: { a: 'alice' } },
    });
    expect((await harness.agent({ message: '1' }, { token: 'guess-1' })).status).toBe(401);
    expect((await harness.agent({ message: '2' })).status).toBe(401);
    const refused = await harness.agent({ message: '3' }, { token: 'guess-3' });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('rate_limited');
    expect(refused.body.error.message).toMatch(/^Too many requests from 127\.0\.0\.1 without a valid token/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // A valid token is counted for its principal alone.
    expect((await harness.agent({ message: 'mine' }, { token: 'a' })).status).toBe(200);
    expect((await harness.agent({ message: 'mine too' }, { token: 'a' })).status).toBe(200);
    expect(harness.fake.chatRequests()).toHaveLength(2);
  });
});
