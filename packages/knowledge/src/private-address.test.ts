import { describe, expect, it } from 'vitest';
import { findPrivateAddress, isPrivateAddress } from './private-address.js';

describe('isPrivateAddress', () => {
  it.each([
    '127.0.0.1',
    '127.255.0.9',
    '10.0.0.1',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '0.0.0.0',
    '::1',
    '[::1]',
    '::',
    'fc00::1',
    'fd12:3456::1',
    'fe80::1',
    'fe80::1%eth0',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
    '100.64.0.1',
    '224.0.0.1',
    'not an address',
  ])('refuses %s', (address) => {
    expect(isPrivateAddress(address)).toBe(true);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '192.169.0.1', '2606:4700:4700::1111'])(
    'allows %s',
    (address) => {
      expect(isPrivateAddress(address)).toBe(false);
    },
  );
});

describe('findPrivateAddress', () => {
  it('checks IP literals without resolving them', async () => {
    const lookup = async (): Promise<string[]> => {
      throw new Error('should not resolve');
    };
    expect(await findPrivateAddress('127.0.0.1', lookup)).toBe('127.0.0.1');
    expect(await findPrivateAddress('[::1]', lookup)).toBe('::1');
    expect(await findPrivateAddress('8.8.8.8', lookup)).toBeUndefined();
  });

  it('checks every address a name resolves to', async () => {
    expect(await findPrivateAddress('mixed.test', async () => ['93.184.216.34', '10.1.2.3'])).toBe(
      '10.1.2.3',
    );
    expect(await findPrivateAddress('public.test', async () => ['93.184.216.34'])).toBeUndefined();
  });

  it('resolves localhost for real to a loopback address', async () => {
    const { defaultLookup } = await import('./private-address.js');
    expect(await findPrivateAddress('localhost', defaultLookup)).toBeDefined();
  });
});
