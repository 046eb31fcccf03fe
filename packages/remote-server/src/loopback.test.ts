import { describe, expect, it } from 'vitest';
import { isLoopbackHost } from './loopback.js';

describe('isLoopbackHost', () => {
  it('accepts loopback names and addresses', () => {
    for (const host of [
      '127.0.0.1',
      '127.1.2.3',
      'localhost',
      'LOCALHOST',
      '::1',
      '[::1]',
      '0:0:0:0:0:0:0:1',
      '::ffff:127.0.0.1',
    ]) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
  });

  it('refuses every other host', () => {
    for (const host of [
      '0.0.0.0',
      '::',
      '',
      '10.0.0.1',
      '192.168.1.1',
      '128.0.0.1',
      'example.com',
      'localhost.evil.com',
      '::2',
    ]) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
  });
});
