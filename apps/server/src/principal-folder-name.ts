import { createHash } from 'node:crypto';

/**
 * A folder name for a principal's data, safe on every file system whatever the principal is
 * called: its name made readable (lower case, runs of anything but `[a-z0-9_-]` as one `-`, at
 * most 40 characters), then `-` and 16 hex digits of the SHA-256 of the exact name. Distinct
 * principals get distinct folders even where only case or punctuation tells them apart (`Alice`,
 * `alice`, `a/lice`), and on case-insensitive file systems; no name can climb out (`..`, `/`).
 */
export function principalFolderName(principal: string): string {
  const readable = principal
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  const hash = createHash('sha256').update(principal, 'utf8').digest('hex').slice(0, 16);
  return readable === '' ? hash : `${readable}-${hash}`;
}
