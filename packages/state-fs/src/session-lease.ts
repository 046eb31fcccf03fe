import type { FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeyedMutex } from '@sessions/core';
import { acquireSessionLock, type ReleaseLock } from './session-lock.js';

/** The lock directory inside a session folder. */
export const LOCK_DIR = '.lock';
/** A lease reused back to back is given up after this long, so other processes get a turn. */
const MAX_LEASE_MS = 200;
/** ...and this process then waits this long before taking it again (waiters poll more often). */
const YIELD_MS = 15;

/** What a task holding a session's lock may use and keep until the lease ends. */
export interface Lease {
  readonly dir: string;
  /** Bumped on every change to `messages.jsonl` made under this lease. */
  version: number;
  /** `messages.jsonl` open for appending, kept (and closed) with the lease. */
  handle: FileHandle | undefined;
  /** Set by a task that removed the session folder: the lease ends right after it. */
  gone: boolean;
}

interface HeldLease extends Lease {
  release: ReleaseLock;
  acquiredAt: number;
  timer: NodeJS.Timeout | undefined;
  ended: boolean;
  compromised: boolean;
}

export interface LeaseOptions {
  /** Makes the session folder when it is missing; when absent, a missing folder resolves `undefined`. */
  makeDir?: ((dir: string) => Promise<void>) | undefined;
  staleMs: number;
  timeoutMs: number;
  /** Keep the lock this long after a task, for a next task of this process. 0: release at once. */
  holdMs: number;
  onCompromised: (lockPath: string, error: Error) => void;
}

const mutex = new KeyedMutex();
const held = new Map<string, HeldLease>();
const yieldUntil = new Map<string, number>();

async function end(lease: HeldLease): Promise<void> {
  if (lease.ended) return;
  lease.ended = true;
  clearTimeout(lease.timer);
  if (held.get(lease.dir) === lease) held.delete(lease.dir);
  const handle = lease.handle;
  lease.handle = undefined;
  try {
    await handle?.close();
  } finally {
    await lease.release();
  }
}

async function acquire(dir: string, options: LeaseOptions): Promise<HeldLease | undefined> {
  const wait = (yieldUntil.get(dir) ?? 0) - Date.now();
  yieldUntil.delete(dir);
  if (wait > 0) await sleep(wait);
  const lockPath = join(dir, LOCK_DIR);
  let lease: HeldLease | undefined;
  const release = await acquireSessionLock({
    lockPath,
    staleMs: options.staleMs,
    timeoutMs: options.timeoutMs,
    onMissingDir: async () => {
      if (!options.makeDir) return false;
      await options.makeDir(dir);
      return true;
    },
    onCompromised: (error) => {
      if (!lease || lease.ended || lease.gone) return;
      lease.compromised = true;
      options.onCompromised(lockPath, error);
    },
  });
  if (!release) return undefined;
  lease = {
    dir,
    version: 0,
    handle: undefined,
    gone: false,
    release,
    acquiredAt: Date.now(),
    timer: undefined,
    ended: false,
    compromised: false,
  };
  return lease;
}

/**
 * Runs `task` holding the session's lock: one task at a time per session folder in this process
 * (an in-process queue), and one process at a time (the lock directory). After the task the lock
 * is kept for `holdMs`, so back-to-back tasks of this process skip taking it again; a lease is
 * given up after 200 ms of reuse so that other processes get a turn.
 */
export async function withSessionLease<T>(
  dir: string,
  options: LeaseOptions,
  task: (lease: Lease) => Promise<T>,
): Promise<T | undefined> {
  return mutex.run(dir, async () => {
    let lease = held.get(dir);
    if (lease?.compromised) {
      await end(lease).catch(() => {});
      lease = undefined;
    }
    if (lease) {
      clearTimeout(lease.timer);
      lease.timer = undefined;
    } else {
      lease = await acquire(dir, options);
      if (!lease) return undefined;
      held.set(dir, lease);
    }
    const current = lease;
    try {
      return await task(current);
    } finally {
      const expired = Date.now() - current.acquiredAt >= MAX_LEASE_MS;
      if (current.gone || current.compromised || options.holdMs <= 0 || expired) {
        if (expired && !current.gone) yieldUntil.set(dir, Date.now() + YIELD_MS);
        await end(current);
      } else {
        current.timer = setTimeout(() => {
          void mutex.run(dir, () => end(current)).catch(() => {});
        }, options.holdMs);
        current.timer.unref();
      }
    }
  });
}

/** Whether a task of this process is running or waiting on the session folder `dir`. */
export function leaseBusy(dir: string): boolean {
  return mutex.busy(dir);
}

/** Ends the leases this process holds on sessions under `root` (releasing their locks). */
export async function endLeases(root: string): Promise<void> {
  for (const lease of [...held.values()]) {
    if (dirname(lease.dir) === root) await mutex.run(lease.dir, () => end(lease));
  }
}
