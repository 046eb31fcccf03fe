import { describe, expect, it } from 'vitest';
import { principalFolderName } from './principal-folder-name.js';

describe('principalFolderName', () => {
  it('keeps the name readable and adds a hash of the exact name', () => {
    expect(principalFolderName('alice')).toMatch(/^alice-[0-9a-f]{16}$/);
    expect(principalFolderName('alice')).toBe(principalFolderName('alice'));
  });

  it('tells apart names that differ only in case or punctuation', () => {
    const names = ['alice', 'Alice', 'ALICE', 'a/lice', 'a\\lice', 'a lice', 'a-lice'];
    const folders = names.map(principalFolderName);
    expect(new Set(folders.map((f) => f.toLowerCase())).size).toBe(names.length);
  });

  it('never makes a path, a dot name or anything outside [a-z0-9_-]', () => {
    for (const name of ['..', '.', '/', '../../etc', 'C:\\x', '\u0000', 'ümlaut', ' ', 'x'.repeat(500)]) {
      const folder = principalFolderName(name);
      expect(folder).toMatch(/^[a-z0-9_-]{1,57}$/);
    }
    expect(principalFolderName('..')).toMatch(/^[0-9a-f]{16}$/);
  });
});
