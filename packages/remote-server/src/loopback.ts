import { isIP } from 'node:net';

/** Whether `host` only accepts connections from this machine: `localhost`, 127.0.0.0/8, `::1`. */
export function isLoopbackHost(host: string): boolean {
  const name = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (name === 'localhost') return true;
  const v4 = name.startsWith('::ffff:') ? name.slice(7) : name;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  if (isIP(name) === 6) return /^(0{0,4}:){7}0{0,3}1$|^::1$/.test(name);
  return false;
}
