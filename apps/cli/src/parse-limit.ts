import { InvalidArgumentError } from 'commander';

/** Parses `--limit`: a whole number from 1 to 1000. */
export function parseLimit(value: string): number {
  const limit = Number(value);
  if (!/^\d+$/.test(value.trim()) || limit < 1 || limit > 1000) {
    throw new InvalidArgumentError('use a whole number from 1 to 1000');
  }
  return limit;
}
