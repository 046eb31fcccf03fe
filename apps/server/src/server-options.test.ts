import { describe, expect, it } from 'vitest';
import { parsePort, parseTokens, serverOptionsFrom } from './server-options.js';

describe('server options', () => {
  it('parses ports, 0 meaning any free port', () => {
    expect(parsePort('8000')).toBe(8000);
    expect(parsePort('0')).toBe(0);
    for (const bad of ['-1', '65536', 'abc', '80.5', '']) expect(() => parsePort(bad)).toThrow(/0 to 65535/);
  });

  it('parses tokens as [principal:]secret, repeated or comma-separated', () => {
    expect(parseTokens(['alice:0123456789abcdef', 'bob:fedcba9876543210,abcdefgh12345678'])).toEqual({
      '0123456789abcdef': 'alice',
      fedcba9876543210: 'bob',
      abcdefgh12345678: 'default',
    });
    expect(parseTokens([])).toEqual({});
    expect(() => parseTokens(['alice:short'])).toThrow(/too short/);
  });

  it('turns flags into server options', () => {
    expect(
      serverOptionsFrom({
        port: 0,
        host: '127.0.0.1',
        dataDir: '/tmp/x',
        token: ['alice:0123456789abcdef'],
        offline: true,
        log: false,
      }),
    ).toEqual({
      port: 0,
      host: '127.0.0.1',
      dataDir: '/tmp/x',
      offline: true,
      tokens: { '0123456789abcdef': 'alice' },
      logger: false,
    });
  });
});
