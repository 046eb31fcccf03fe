import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ConflictError } from '@sessions/core';

/** The record a writing process keeps in the database. */
export interface WriterRecord {
  /** The writing process (one id per process, shared by its stores). */
  id: string;
  pid: number;
  host: string;
  /** Epoch ms after which the record no longer counts. */
  expiresAt: number;
}

/** How the lease reads and writes its record. */
export interface LeaseIo {
  read(): Promise<unknown>;
  write(record: WriterRecord): Promise<void>;
  remove(): Promise<void>;
}

const PROCESS_ID = Symbol.for('sessions.state-keyv.process-id');

/** This process's writer id: one per process, whatever copies of the package are loaded. */
export function processWriterId(): string {
  const holder = globalThis as { [PROCESS_ID]?: string };
  holder[PROCESS_ID] ??= randomUUID();
  return holder[PROCESS_ID];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code === 'EPERM';
  }
}

function isRecord(value: unknown): value is WriterRecord {
  const r = value as Partial<WriterRecord> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.id === 'string' &&
    typeof r.pid === 'number' &&
    typeof r.host === 'string' &&
    typeof r.expiresAt === 'number'
  );
}

/**
 * Refuses a second writing process on a database whose adapter has no atomic operations: each
 * write first makes sure the database's writer record is this process's (renewing it when half of
 * `ms` has passed). Another process's record younger than `ms` makes the write fail with a
 * `ConflictError`, unless that process is known dead (same host, pid gone) or is an earlier run
 * of this one (same host and pid). Best effort: two processes starting in the same instant may
 * both pass once; the next renewal sees it.
 */
export class WriterLease {
  readonly #io: LeaseIo;
  readonly #ms: number;
  readonly #now: () => number;
  #renewAt = 0;
  #pending: Promise<void> | undefined;

  constructor(io: LeaseIo, ms: number, now: () => number = Date.now) {
    this.#io = io;
    this.#ms = ms;
    this.#now = now;
  }

  /** Resolves when this process may write; `ConflictError` when another process writes. */
  async check(): Promise<void> {
    if (this.#now() < this.#renewAt) return;
    this.#pending ??= this.#renew().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  /** Gives the record up (when it is this process's), so another process may write at once. */
  async release(): Promise<void> {
    await this.#pending?.catch(() => {});
    this.#renewAt = 0;
    const current = await this.#io.read();
    if (isRecord(current) && current.id === processWriterId()) await this.#io.remove();
  }

  async #renew(): Promise<void> {
    const now = this.#now();
    const current = await this.#io.read();
    const id = processWriterId();
    if (isRecord(current) && current.id !== id && current.expiresAt > now) {
      const sameHost = current.host === hostname();
      const earlierRun = sameHost && current.pid === process.pid;
      const dead = sameHost && !alive(current.pid);
      if (!earlierRun && !dead) {
        const seconds = Math.ceil((current.expiresAt - now) / 1000);
        throw new ConflictError(
          `Another process (pid ${current.pid} on ${current.host}) writes sessions to this database, ` +
            'through a Keyv adapter with no atomic operations: only one process may. Use Redis ' +
            `(@keyv/redis) or SQLite (@keyv/sqlite) for several processes, or wait ${seconds} s after ` +
            'the other process stopped (or call its store.close()).',
        );
      }
    }
    const record: WriterRecord = { id, pid: process.pid, host: hostname(), expiresAt: now + this.#ms };
    await this.#io.write(record);
    this.#renewAt = now + this.#ms / 2;
  }
}
