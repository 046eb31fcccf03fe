import { setTimeout as sleep } from 'node:timers/promises';
import { TimeoutError } from '@sessions/core';
import lockfile from 'proper-lockfile';

export interface SessionLockOptions {
  /** The lock directory (`{sessionDir}/.lock`). */
  lockPath: string;
  /** A lock not refreshed for this long belongs to a dead holder and is taken over. */
  staleMs: number;
  /** Give up with `TimeoutError` after waiting this long for a live holder. */
  timeoutMs: number;
  /**
   * Called when the lock's directory is missing (ENOENT): create it and answer `true` to retry,
   * or answer `false` to give up (the lock is then not taken).
   */
  onMissingDir: () => Promise<boolean>;
  /** Called when the lock was lost while held (its holder stalled past `staleMs`). */
  onCompromised: (error: Error) => void;
}

export type ReleaseLock = () => Promise<void>;

function codeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

/**
 * Takes the cross-process lock of a session (a directory made with `mkdir`, kept fresh while held,
 * via `proper-lockfile`). A lock whose holder died (not refreshed for `staleMs`) is taken over.
 * Resolves `undefined` when `onMissingDir` declines.
 */
export async function acquireSessionLock(options: SessionLockOptions): Promise<ReleaseLock | undefined> {
  const { lockPath, staleMs, timeoutMs } = options;
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  for (;;) {
    try {
      const release = await lockfile.lock(lockPath, {
        lockfilePath: lockPath,
        realpath: false,
        stale: staleMs,
        retries: 0,
        onCompromised: options.onCompromised,
      });
      return async () => {
        try {
          await release();
        } catch (error) {
          // Released already: the lock was compromised (reported) or its directory was removed.
          if (codeOf(error) !== 'ERELEASED') throw error;
        }
      };
    } catch (error) {
      const code = codeOf(error);
      if (code === 'ENOENT') {
        if (!(await options.onMissingDir())) return undefined;
      } else if (code !== 'ELOCKED') {
        throw error;
      }
      if (Date.now() >= deadline) {
        throw new TimeoutError(
          `Timed out after ${timeoutMs} ms waiting for the lock ${lockPath}: another process holds it. ` +
            `A lock left by a dead process is taken over after ${staleMs} ms.`,
          { cause: error },
        );
      }
      if (code === 'ELOCKED') {
        await sleep(delay + Math.random() * delay);
        delay = Math.min(delay * 2, 5);
      }
    }
  }
}
