import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useTempDir } from './temp-dir.js';

describe('useTempDir', () => {
  const tmp = useTempDir({ beforeEach, afterEach, prefix: 'sessions-temp-dir-test-' });
  const seen: string[] = [];
  let closedBeforeRemoval: boolean | undefined;
  afterEach(() => {
    // Registered after useTempDir, so it runs first: the folder is still there.
    closedBeforeRemoval = existsSync(tmp.path);
  });
  afterAll(() => {
    expect(closedBeforeRemoval).toBe(true);
    expect(seen).toHaveLength(2);
    for (const dir of seen) expect(existsSync(dir)).toBe(false);
  });

  it('gives each test an empty folder under the OS temp dir, named with the prefix', async () => {
    expect(dirname(tmp.path)).toBe(tmpdir());
    expect(basename(tmp.path).startsWith('sessions-temp-dir-test-')).toBe(true);
    expect(await readdir(tmp.path)).toEqual([]);
    await writeFile(join(tmp.path, 'a.txt'), 'a');
    seen.push(tmp.path);
  });

  it('gives the next test another empty folder, and removed the last one with its files', async () => {
    expect(await readdir(tmp.path)).toEqual([]);
    expect(seen).not.toContain(tmp.path);
    expect(existsSync(seen[0]!)).toBe(false);
    seen.push(tmp.path);
  });
});

describe('useTempDir outside a test', () => {
  const tmp = useTempDir({ beforeEach: () => undefined, afterEach: () => undefined });

  it('throws when read while no folder exists', () => {
    expect(() => tmp.path).toThrow('only while a test runs');
  });
});
