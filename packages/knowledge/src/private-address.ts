import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Resolves a host name to all its addresses (`dns.lookup` with `all: true` by default). */
export type HostLookup = (hostname: string) => Promise<string[]>;

export const defaultLookup: HostLookup = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);

/**
 * Whether `address` is anything but a public unicast address: loopback (127/8, ::1), private
 * (10/8, 172.16/12, 192.168/16), link-local (169.254/16, fe80::/10), unique-local (fc00::/7),
 * unspecified (0.0.0.0, ::), carrier-grade NAT, multicast, broadcast, reserved, and IPv6 forms
 * that embed an IPv4 address (mapped, NAT64, 6to4, Teredo). Unparseable addresses count as private.
 */
export function isPrivateAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (!ipaddr.isValid(bare)) return true;
  return ipaddr.process(bare).range() !== 'unicast';
}

/**
 * The first non-public address `hostname` stands for (an IP literal, or every address it
 * resolves to), or `undefined` when all are public. Resolution errors propagate.
 */
export async function findPrivateAddress(hostname: string, lookup: HostLookup): Promise<string | undefined> {
  const host = hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) !== 0 ? [host] : await lookup(host);
  if (addresses.length === 0) return '(no address)';
  return addresses.find((address) => isPrivateAddress(address));
}
