import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDirOptions {
  /** The caller's runner hook that runs before each test: vitest's `beforeEach`. */
  beforeEach: (fn: () => Promise<void>) => unknown;
  /** The caller's runner hook that runs after each test: vitest's `afterEach`. */
  afterEach: (fn: () => Promise<void>) => unknown;
  /** Start of the folder's name under the OS temp dir. Default `'sessions-'`. */
  prefix?: string;
}

export interface TempDir {
  /** The folder of the test that runs now. Throws outside a test (between `beforeEach` and `afterEach`). */
  readonly path: string;
}

/**
 * A fresh, empty folder under the OS temp dir for each test, removed with all it holds after the
 * test. Call it at the top of a test file (or a `describe`), before your own `afterEach` hooks:
 * vitest runs after-hooks last-registered first, so yours (closing what is open in the folder)
 * run before the folder goes.
 */
export function useTempDir({ beforeEach, afterEach, prefix = 'sessions-' }: TempDirOptions): TempDir {
  let current: string | undefined;
  beforeEach(async () => {
    current = await mkdtemp(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    const dir = current;
    current = undefined;
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });
  return {
    get path(): string {
      if (current === undefined) {
        throw new Error(
          'useTempDir: the folder exists only while a test runs (from beforeEach to afterEach).',
        );
      }
      return current;
    },
  };
}
