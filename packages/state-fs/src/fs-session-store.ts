import { randomUUID } from 'node:crypto';
import type { BigIntStats, Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  type AppendOptions,
  type AppendResult,
  assertSessionId,
  encodeSessionState,
  type HistoryCursor,
  InvalidInputError,
  isValidSessionId,
  type ListFilter,
  lastChange,
  type Message,
  SessionCorruptError,
  type SessionState,
  type SessionStore,
  type SessionSummary,
  SessionsError,
  type StoredSession,
  type StoredTail,
} from '@sessions/core';
import { fsyncDir, writeFileAtomic } from './atomic-write.js';
import { encodeBatch, encodeHeader, kindOf, type ScanResult, scanHistory } from './history-lines.js';
import { endLeases, type Lease, leaseBusy, withSessionLease } from './session-lease.js';

/** Something the store recovered from, worth a log line. */
export interface FsSessionStoreWarning {
  /**
   * `torn_tail`: the history ends with a line (or batch) cut short by a crash; it was skipped
   * (on load) or removed (before an append). `lock_compromised`: this process lost a session lock
   * it held, because it stalled longer than `lockStaleMs`. `corrupt_state`: `list()` left out a
   * session whose `state.json` cannot be read (its `load` throws `SessionCorruptError`).
   */
  code: 'torn_tail' | 'lock_compromised' | 'corrupt_state';
  message: string;
  /** The file concerned. */
  file: string;
}

export interface FsSessionStoreOptions {
  /** Folder holding one sub-folder per session. Default `.sessions` (relative to the working directory). */
  root?: string;
  /** Receives recoverable problems (a torn last line, a lost lock, a damaged state left out of `list()`). Default: `console.warn`. */
  onWarning?: (warning: FsSessionStoreWarning) => void;
  /** A session lock not refreshed for this long is taken over (its holder died). Default 10 000 ms, at least 2 000. */
  lockStaleMs?: number;
  /** How long an operation waits for a session lock held by a live process before a `TimeoutError`. Default 30 000 ms. */
  lockTimeoutMs?: number;
  /**
   * Keep a session's lock (and its history file open) this long after an operation, so the next
   * operation of this process on the session skips taking it again. Another process waits at most
   * this long more. `0` releases at once. Default 5 ms.
   */
  lockHoldMs?: number;
}

/** What the store knows of a session's `messages.jsonl`, so an append need not re-read it. */
/** Where the first `count` messages of a history file end: its byte length and line count there. */
interface Mark {
  bytes: number;
  lines: number;
}

interface HistoryCache {
  dev: number;
  ino: number;
  /** The file's birth time (0 where the file system does not keep one). */
  birth: number;
  /** Length of the complete batches: the valid prefix, which never changes for this file. */
  bytes: number;
  /** Messages in the valid prefix. */
  count: number;
  /** Lines in the valid prefix (header and batch lines included). */
  lines: number;
  keys: Map<string, number>;
  /** The last bytes of the valid prefix, compared on each append to detect a replaced file. */
  tail: Buffer;
  /** The lease (and its version) this cache was last checked under: while both hold, no re-check. */
  lease: Lease | undefined;
  version: number;
  /** Message count → where those messages end, for the last `MAX_MARKS` points seen: `loadSince` reads from there. */
  marks: Map<number, Mark>;
}

/** An append waiting to be written with the others of its group. */
interface PendingAppend {
  /** Its lines, encoded. */
  data: Buffer;
  count: number;
  /** Lines it adds (its batch line included). */
  lines: number;
  key: string | undefined;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

/** Appends to one session that arrived while it was busy: written together, in one `write` and one `fdatasync`. */
interface AppendGroup {
  appends: PendingAppend[];
  bytes: number;
}

interface LoadedHistory {
  messages: Message[];
  scan: ScanResult;
  file: string;
}

const MESSAGES_FILE = 'messages.jsonl';
const STATE_FILE = 'state.json';
const TAIL_BYTES = 64;
/** `list()` reads a history backwards in pieces of this size, to its last message line. */
const LAST_LINE_CHUNK = 4096;
const MAX_CACHED_SESSIONS = 1000;
const MAX_MARKS = 256;
/** A group of appends written together holds at most this many appends and bytes (one more starts the next group). */
const MAX_GROUP_APPENDS = 1024;
const MAX_GROUP_BYTES = 8 * 1024 * 1024;
/** The epoch of a session that has a state but no history file yet. */
const NO_HISTORY = 'none';
/** Epochs of files whose birth time the file system does not keep: never the same twice, so no cursor holds. */
let unsure = 0;

/**
 * Names a history file: its device, inode and birth time. A file deleted and made again gets
 * another birth time even if it reuses the inode; where birth times are not kept, every read gets
 * a new epoch, so `loadSince` always answers the whole history there.
 */
function epochOf({ dev, ino, birthtimeMs }: Stats): string {
  if (birthtimeMs > 0) return `${dev}.${ino}.${birthtimeMs}`;
  unsure += 1;
  return `${dev}.${ino}.?${unsure}`;
}

function addMark(cache: HistoryCache, count: number, mark: Mark): void {
  cache.marks.delete(count);
  cache.marks.set(count, mark);
  if (cache.marks.size > MAX_MARKS) {
    const oldest = cache.marks.keys().next().value;
    if (oldest !== undefined) cache.marks.delete(oldest);
  }
}

function validCursor(cursor: HistoryCursor | undefined): cursor is HistoryCursor {
  return (
    typeof cursor === 'object' &&
    cursor !== null &&
    typeof cursor.epoch === 'string' &&
    Number.isSafeInteger(cursor.seq) &&
    cursor.seq >= 0
  );
}
const ROLES: ReadonlySet<string> = new Set(['system', 'user', 'assistant', 'tool']);

function codeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
}

/** Whether a file-system error says the file (or a folder on its path) is not there. */
function isMissing(error: unknown): boolean {
  const code = codeOf(error);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** The file opened for reading, or `undefined` when it is not there. */
async function openIfExists(file: string): Promise<FileHandle | undefined> {
  try {
    return await open(file, 'r');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/**
 * The `createdAt` of the last acknowledged message of a history file (`undefined` when there is no
 * file, no such message, or damage in the way), read backwards from its end only as far as it
 * takes. Bytes after the last newline (a torn line) are not a message, nor are the messages of a
 * batch cut short by a crash (fewer lines after its batch line than it announces): only the last
 * append can be torn, so the message before its batch line is the last one acknowledged. A line
 * that is not a history line ends the search (`load` reports such damage, `list` does not).
 */
async function lastMessageTime(file: string): Promise<string | undefined> {
  const handle = await openIfExists(file);
  if (handle === undefined) return undefined;
  let newest: string | undefined; // the newest message line's time, since the newest batch line
  let count = 0; // message lines read since the newest batch line
  let afterTorn = false; // a torn batch was passed: the next message is the answer
  /** Takes one line, newest first; answers `done` with the result once it is known. */
  const take = (line: Buffer): { done: true; time: string | undefined } | undefined => {
    let value: unknown;
    try {
      value = JSON.parse(line.toString('utf8'));
    } catch {
      return { done: true, time: undefined };
    }
    const kind = kindOf(value);
    if (kind === 'message') {
      const createdAt = (value as { createdAt?: unknown }).createdAt;
      const time = typeof createdAt === 'string' ? createdAt : undefined;
      if (afterTorn) return { done: true, time };
      if (count === 0) newest = time;
      count += 1;
      return undefined;
    }
    if (kind === 'batch') {
      if (afterTorn) return undefined;
      if (count >= (value as { batch: number }).batch) return { done: true, time: newest };
      afterTorn = true;
      return undefined;
    }
    if (kind === 'header') return { done: true, time: afterTorn ? undefined : newest };
    return { done: true, time: undefined };
  };
  try {
    let position = (await handle.stat()).size;
    let carry = Buffer.alloc(0); // the bytes after `position` not yet split into whole lines
    let torn = true; // the first piece after the last newline is never a whole line
    while (position > 0) {
      const length = Math.min(LAST_LINE_CHUNK, position);
      position -= length;
      const bytes = Buffer.concat([await readRange(handle, position, length), carry]);
      let end = bytes.length;
      for (
        let newline = bytes.lastIndexOf(0x0a, end - 1);
        newline >= 0;
        newline = bytes.lastIndexOf(0x0a, end - 1)
      ) {
        if (!torn) {
          const read = take(bytes.subarray(newline + 1, end));
          if (read !== undefined) return read.time;
        }
        torn = false;
        end = newline;
        if (end === 0) break;
      }
      carry = Buffer.from(bytes.subarray(0, end));
    }
    if (!torn && carry.length > 0) {
      const read = take(carry);
      if (read !== undefined) return read.time;
    }
    return afterTorn ? undefined : newest;
  } finally {
    await handle.close();
  }
}

function defaultWarning(warning: FsSessionStoreWarning): void {
  console.warn(`[@sessions/state-fs] ${warning.message}`);
}

function lastBytes(previous: Buffer, chunk: Buffer): Buffer {
  if (chunk.length >= TAIL_BYTES) return Buffer.from(chunk.subarray(chunk.length - TAIL_BYTES));
  const joined = Buffer.concat([previous, chunk]);
  return joined.subarray(Math.max(0, joined.length - TAIL_BYTES));
}

/** Reads `length` bytes at `position` (fewer at the end of the file), after `spare` unused bytes. */
async function readRange(handle: FileHandle, position: number, length: number, spare = 0): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(spare + length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, spare + done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buffer.subarray(0, spare + done);
}

/** Reads a whole (small) file without asking its size first. */
async function readToEnd(handle: FileHandle): Promise<Buffer> {
  let buffer = Buffer.allocUnsafe(16_384);
  let done = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buffer, done, buffer.length - done, done);
    done += bytesRead;
    if (bytesRead === 0) return buffer.subarray(0, done);
    if (done === buffer.length) {
      const bigger = Buffer.allocUnsafe(buffer.length * 2);
      buffer.copy(bigger);
      buffer = bigger;
    }
  }
}

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await handle.write(data, done, data.length - done);
    done += bytesWritten;
  }
}

/**
 * Cuts the file back to `length` after a failed write of `data` there, and flushes it; only when
 * what follows `length` is (the start of) `data` itself, so never bytes of another process that
 * took the lock over meanwhile (this one having stalled past `lockStaleMs`).
 */
async function takeBack(handle: FileHandle, length: number, data: Buffer): Promise<void> {
  const { size } = await handle.stat();
  if (size <= length || size > length + data.length) return;
  const found = await readRange(handle, length, size - length);
  if (!found.equals(data.subarray(0, found.length))) return;
  await handle.truncate(length);
  await handle.datasync();
}

/** Checks a state given to `saveState` (or returned by an `updateState` update) and returns its line. */
function encodeState(state: unknown): string {
  return `${encodeSessionState(state)}\n`;
}

function validateMessages(messages: unknown): asserts messages is Message[] {
  if (!Array.isArray(messages)) throw new InvalidInputError('append expects an array of messages');
  messages.forEach((message: unknown, i) => {
    const m = message as Partial<Message> | null;
    const problem =
      typeof m !== 'object' || m === null
        ? 'is not an object'
        : typeof m.id !== 'string' || m.id === ''
          ? 'has no string "id"'
          : typeof m.role !== 'string' || !ROLES.has(m.role)
            ? `has an unknown role ${JSON.stringify(m.role)} (use system, user, assistant or tool)`
            : typeof m.content !== 'string'
              ? 'has no string "content"'
              : typeof m.createdAt !== 'string'
                ? 'has no string "createdAt"'
                : undefined;
    if (problem) throw new InvalidInputError(`Message ${i} ${problem}`);
  });
}

/**
 * A `SessionStore` on the file system: `{root}/{sessionId}/messages.jsonl` (append-only history,
 * one message per line, flushed to disk before `append` resolves) and `{root}/{sessionId}/state.json`
 * (replaced atomically). Safe for concurrent use by many stores, in one process or many.
 */
export class FsSessionStore implements SessionStore {
  /** The absolute root folder. */
  readonly root: string;
  readonly #warn: (warning: FsSessionStoreWarning) => void;
  readonly #staleMs: number;
  readonly #timeoutMs: number;
  readonly #holdMs: number;
  readonly #history = new Map<string, HistoryCache>();
  /** Per session, the group of appends waiting for the session's lock (joined by appends arriving meanwhile). */
  readonly #groups = new Map<string, AppendGroup>();
  /** The last `state.json` text read per session, by what its `stat` showed then. */
  readonly #states = new Map<string, { key: string; text: string }>();

  constructor(options: FsSessionStoreOptions = {}) {
    this.root = resolve(options.root ?? '.sessions');
    this.#warn = options.onWarning ?? defaultWarning;
    this.#staleMs = Math.max(options.lockStaleMs ?? 10_000, 2_000);
    this.#timeoutMs = options.lockTimeoutMs ?? 30_000;
    this.#holdMs = options.lockHoldMs ?? 5;
  }

  async load(sessionId: string): Promise<StoredSession | undefined> {
    const dir = this.#dir(sessionId);
    const [state, first] = await Promise.all([this.#readState(dir), this.#readHistory(sessionId, dir)]);
    let history = first;
    if (history && history.scan.tornBytes > 0) {
      // Maybe an append of another process is half written: look again once it is done.
      history = await this.#locked(dir, false, async () => this.#readHistory(sessionId, dir));
      if (history && history.scan.tornBytes > 0) this.#warnTorn(history.file, history.scan.tornBytes);
    }
    if (state === undefined && history === undefined) return undefined;
    return { state, messages: history?.messages ?? [] };
  }

  #warnTorn(file: string, bytes: number): void {
    this.#warn({
      code: 'torn_tail',
      file,
      message:
        `Skipped ${bytes} byte(s) at the end of ${file}: a last write cut short ` +
        '(crash). They were never acknowledged; the next append removes them.',
    });
  }

  /**
   * The state and the messages after `cursor` (see `SessionStore.loadSince`). When this store
   * wrote or read the history up to the cursor (the usual case: the `Session` asking is the one
   * that last appended), it reads only the bytes after it, and nothing when the file has not
   * grown (one `fstat`); otherwise it reads the whole file, as `load` does.
   */
  async loadSince(sessionId: string, cursor?: HistoryCursor): Promise<StoredTail | undefined> {
    const dir = this.#dir(sessionId);
    const after = validCursor(cursor) ? { seq: cursor.seq, epoch: cursor.epoch } : undefined;
    const [state, first] = await Promise.all([
      this.#readStateSince(sessionId, dir),
      this.#readSince(sessionId, dir, after),
    ]);
    let history = first;
    if (history?.torn) {
      // Maybe an append of another process is half written: read again once it is done.
      history = await this.#locked(dir, false, () => this.#readSince(sessionId, dir, after));
      if (history?.torn) this.#warnTorn(join(dir, MESSAGES_FILE), history.torn);
    }
    if (state === undefined && history === undefined) return undefined;
    const tail = history
      ? { messages: history.messages, from: history.from, seq: history.seq, epoch: history.epoch }
      : undefined;
    return { state, ...(tail ?? { messages: [], from: 0, seq: 0, epoch: NO_HISTORY }) };
  }

  async append(sessionId: string, messages: Message[], opts: AppendOptions = {}): Promise<AppendResult> {
    const dir = this.#dir(sessionId);
    validateMessages(messages);
    const { idempotencyKey } = opts;
    if (idempotencyKey !== undefined && typeof idempotencyKey !== 'string') {
      throw new InvalidInputError('idempotencyKey must be a string');
    }
    let data: Buffer;
    try {
      data = Buffer.from(encodeBatch(messages, idempotencyKey));
    } catch (cause) {
      throw new InvalidInputError('Messages must be JSON-serialisable', { cause });
    }
    const count = messages.length;
    const lines = count + (count > 1 || idempotencyKey !== undefined ? 1 : 0);
    return new Promise<AppendResult>((resolvePromise, reject) => {
      const append: PendingAppend = {
        data,
        count,
        lines,
        key: idempotencyKey,
        resolve: resolvePromise,
        reject,
      };
      // Join the group waiting for the session's lock, if any: it is written in one go.
      const waiting = this.#groups.get(sessionId);
      if (
        waiting !== undefined &&
        waiting.appends.length < MAX_GROUP_APPENDS &&
        waiting.bytes + data.length <= MAX_GROUP_BYTES
      ) {
        waiting.appends.push(append);
        waiting.bytes += data.length;
        return;
      }
      const group: AppendGroup = { appends: [append], bytes: data.length };
      this.#groups.set(sessionId, group);
      this.#locked(dir, true, (lease) => {
        // From here the group is closed: appends arriving now form the next one.
        if (this.#groups.get(sessionId) === group) this.#groups.delete(sessionId);
        return this.#commitGroup(sessionId, lease, group.appends);
      }).then(undefined, (error: unknown) => {
        // Taking the lock or reading the file failed: nothing of the group was written.
        if (this.#groups.get(sessionId) === group) this.#groups.delete(sessionId);
        for (const pending of group.appends) pending.reject(error);
      });
    });
  }

  async saveState(sessionId: string, state: SessionState): Promise<void> {
    const dir = this.#dir(sessionId);
    const json = encodeState(state);
    this.#groups.delete(sessionId); // appends called after this come after it
    await this.#locked(dir, true, () => writeFileAtomic(join(dir, STATE_FILE), json));
  }

  /**
   * Replaces the state with `update(current)` atomically (see `SessionStore.updateState`): under
   * the session's lock — the one appends and `saveState` take, shared with other processes — it
   * reads `state.json`, calls `update` once, checks the result as `saveState` does and replaces the
   * file atomically. Nothing is written when `update` throws or its result is refused.
   */
  async updateState(
    sessionId: string,
    update: (current: SessionState | undefined) => SessionState,
  ): Promise<SessionState> {
    const dir = this.#dir(sessionId);
    if (typeof update !== 'function') throw new InvalidInputError('updateState expects an update function');
    this.#groups.delete(sessionId); // appends called after this come after it
    const written = await this.#locked(dir, true, async () => {
      const json = encodeState(update(await this.#readState(dir)));
      await writeFileAtomic(join(dir, STATE_FILE), json);
      return json;
    });
    // A copy of what was written, as it reads back.
    return JSON.parse(written!) as SessionState;
  }

  async *list(filter: ListFilter = {}): AsyncIterable<SessionSummary> {
    let names: string[];
    try {
      const entries = await readdir(this.root, { withFileTypes: true });
      names = entries.filter((e) => e.isDirectory() && isValidSessionId(e.name)).map((e) => e.name);
    } catch (error) {
      if (codeOf(error) === 'ENOENT') return;
      throw error;
    }
    names.sort();
    for (const sessionId of names) {
      const dir = join(this.root, sessionId);
      let state: SessionState | undefined;
      let damaged = false;
      try {
        state = await this.#readState(dir);
      } catch (error) {
        // One damaged session must not hide the others: it is listed with what can be read (as the
        // Keyv store lists it), with a warning, and `load` names the damage.
        if (!(SessionsError.is(error) && error.code === 'session_corrupt')) throw error;
        damaged = true;
        const file = (error as SessionCorruptError).file ?? join(dir, STATE_FILE);
        this.#warn({
          code: 'corrupt_state',
          file,
          message: `Listed session ${sessionId} without its state: ${error.message}`,
        });
      }
      const history = join(dir, MESSAGES_FILE);
      if (state === undefined && !damaged && !(await this.#exists(history))) continue;
      if (filter.userId !== undefined && state?.userId !== filter.userId) continue;
      // A turn appends messages without rewriting state.json: the last change is the later of the two.
      const updatedAt = lastChange(state?.updatedAt, await lastMessageTime(history));
      yield { sessionId, userId: state?.userId, createdAt: state?.createdAt, updatedAt };
    }
  }

  async delete(sessionId: string): Promise<void> {
    const dir = this.#dir(sessionId);
    // Under the lock, move the folder aside in one rename (waiting appends then start a new
    // session), then remove it. `~` is not allowed in ids, so the name never is a session.
    const trash = join(this.root, `.deleted~${sessionId}~${randomUUID()}`);
    this.#groups.delete(sessionId); // appends called after this come after it (in a new session)
    const moved = await this.#locked(dir, false, async (lease) => {
      this.#history.delete(sessionId);
      await lease.handle?.close();
      lease.handle = undefined;
      try {
        await rename(dir, trash);
      } catch (error) {
        if (codeOf(error) === 'ENOENT') return false;
        throw error;
      }
      lease.gone = true;
      await fsyncDir(this.root);
      return true;
    });
    this.#history.delete(sessionId);
    this.#states.delete(sessionId);
    if (moved) await rm(trash, { recursive: true, force: true });
  }

  /** The session's folder; throws `InvalidInputError` for an id that could leave `root`. */
  #dir(sessionId: string): string {
    assertSessionId(sessionId);
    const dir = resolve(this.root, sessionId);
    if (dirname(dir) !== this.root) {
      throw new InvalidInputError(
        `Invalid session id ${JSON.stringify(sessionId)}: it leaves the store root`,
      );
    }
    return dir;
  }

  /** Ends this store's session leases at once (releasing their locks). Optional: they end by themselves within `lockHoldMs`. */
  async close(): Promise<void> {
    await endLeases(this.root);
  }

  /**
   * Runs `task` holding the session's lock (see `withSessionLease`). Without `create`, resolves
   * `undefined` when the session folder is missing; with it, makes the folder.
   */
  async #locked<T>(dir: string, create: boolean, task: (lease: Lease) => Promise<T>): Promise<T | undefined> {
    return withSessionLease(
      dir,
      {
        staleMs: this.#staleMs,
        timeoutMs: this.#timeoutMs,
        holdMs: this.#holdMs,
        makeDir: create ? (d) => this.#makeDir(d) : undefined,
        onCompromised: (lockPath, error) =>
          this.#warn({
            code: 'lock_compromised',
            file: lockPath,
            message: `Lost the lock ${lockPath} while holding it (${error.message}); another process may have taken it over.`,
          }),
      },
      task,
    );
  }

  async #makeDir(dir: string): Promise<void> {
    const made = await mkdir(dir, { recursive: true });
    if (made === undefined) return;
    // New folders: flush their parents so the names survive a power loss.
    await fsyncDir(this.root);
    if (made !== dir) await fsyncDir(dirname(this.root)).catch(() => {});
  }

  /**
   * Writes a group of appends (in arrival order) under the session's lock: one `write`, one
   * `fdatasync`. Each append resolves after that flush, or rejects with its error; an append that
   * writes nothing (its key is stored already, or it has no messages) resolves at once unless it
   * depends on the group's bytes (a key first used earlier in the group). When the write or the
   * flush fails, the file is cut back to its length before the group, so none of the group's
   * appends is stored (a process killed then leaves a torn tail or unacknowledged lines, as before).
   */
  async #commitGroup(sessionId: string, lease: Lease, appends: readonly PendingAppend[]): Promise<void> {
    const file = join(lease.dir, MESSAGES_FILE);
    lease.handle ??= await open(file, 'a+');
    const handle = lease.handle;
    const stats = await handle.stat();
    let cache = this.#history.get(sessionId);
    if (
      !cache ||
      cache.lease !== lease ||
      cache.version !== lease.version ||
      cache.ino !== stats.ino ||
      cache.bytes !== stats.size
    ) {
      cache = await this.#catchUp(sessionId, file, handle, lease, stats);
    }
    const wasEmpty = cache.bytes === 0;
    // The group's chunks (the header first for a new file), and where each append ends.
    const chunks: Buffer[] = [];
    const written: Array<{ append: PendingAppend; seq: number; mark: Mark }> = [];
    /** Appends that wait for the group's write: a key written earlier in it (kept), or empty ones. */
    const waiting: Array<{ append: PendingAppend; seq: number; kept: boolean }> = [];
    const groupKeys = new Map<string, number>();
    let bytes = cache.bytes;
    let count = cache.count;
    let lines = cache.lines;
    for (const append of appends) {
      const { key } = append;
      const stored = key === undefined ? undefined : cache.keys.get(key);
      if (stored !== undefined) {
        append.resolve({ seq: stored, replayed: true });
        continue;
      }
      const earlier = key === undefined ? undefined : groupKeys.get(key);
      if (earlier !== undefined) {
        waiting.push({ append, seq: earlier, kept: true });
        continue;
      }
      if (append.count === 0) {
        // Nothing to store: neither stored nor kept, so no `replayed`.
        if (written.length === 0) append.resolve({ seq: count });
        else waiting.push({ append, seq: count, kept: false });
        continue;
      }
      if (bytes === 0) {
        const header = Buffer.from(encodeHeader(sessionId));
        chunks.push(header);
        bytes += header.length;
        lines += 1;
      }
      chunks.push(append.data);
      bytes += append.data.length;
      count += append.count;
      lines += append.lines;
      if (key !== undefined) groupKeys.set(key, count);
      written.push({ append, seq: count, mark: { bytes, lines } });
    }
    if (written.length === 0) return;
    const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes - cache.bytes);
    // From here the file may change even if the write fails half way: make the next append look.
    lease.version++;
    try {
      await writeAll(handle, data);
      await handle.datasync();
      // A new file: flush its folder too, so the file's name survives a power loss.
      if (wasEmpty) await fsyncDir(lease.dir);
    } catch (error) {
      // Take the group back out, so that no append of it is stored once it was refused. If even
      // that fails, the next append finds the lines (complete ones kept, a torn end cut off).
      await takeBack(handle, cache.bytes, data).catch(() => {});
      for (const { append } of written) append.reject(error);
      for (const { append } of waiting) append.reject(error);
      return;
    }
    cache.bytes = bytes;
    cache.count = count;
    cache.lines = lines;
    cache.tail = lastBytes(cache.tail, data);
    for (const [key, seq] of groupKeys) cache.keys.set(key, seq);
    cache.version = lease.version;
    for (const { seq, mark } of written) addMark(cache, seq, mark);
    for (const { append, seq } of written) {
      append.resolve(append.key === undefined ? { seq } : { seq, replayed: false });
    }
    // Appends of a key written earlier in this group kept that one; empty ones stored nothing.
    for (const { append, seq, kept } of waiting) append.resolve(kept ? { seq, replayed: true } : { seq });
  }

  /**
   * Brings the cache of a session up to date with its file, under the lock: reads only the bytes
   * other processes appended since (or the whole file when it is new to this store or was
   * replaced), and cuts off a torn tail so the next line starts clean.
   */
  async #catchUp(
    sessionId: string,
    file: string,
    handle: FileHandle,
    lease: Lease,
    { dev, ino, size, birthtimeMs }: Stats,
  ): Promise<HistoryCache> {
    let cache = this.#history.get(sessionId);
    const same =
      cache !== undefined &&
      cache.dev === dev &&
      cache.ino === ino &&
      cache.birth === birthtimeMs &&
      size >= cache.bytes &&
      (cache.tail.length === 0 ||
        cache.tail.equals(await readRange(handle, cache.bytes - cache.tail.length, cache.tail.length)));
    if (!cache || !same) {
      cache = {
        dev,
        ino,
        birth: birthtimeMs,
        bytes: 0,
        count: 0,
        lines: 0,
        keys: new Map(),
        tail: Buffer.alloc(0),
        lease: undefined,
        version: 0,
        marks: new Map(),
      };
    }
    if (size > cache.bytes) {
      const framed = await readRange(handle, cache.bytes, size - cache.bytes, 1);
      const scan = scanHistory(framed, {
        file,
        fromStart: cache.bytes === 0,
        baseLines: cache.lines,
        baseCount: cache.count,
        collect: false,
      });
      cache.tail = lastBytes(cache.tail, framed.subarray(1, 1 + scan.validBytes));
      cache.bytes += scan.validBytes;
      cache.count += scan.count;
      cache.lines += scan.lines;
      for (const [key, seq] of scan.keys) cache.keys.set(key, seq);
      if (scan.tornBytes > 0) {
        lease.version++;
        await handle.truncate(cache.bytes);
        this.#warn({
          code: 'torn_tail',
          file,
          message:
            `Removed ${scan.tornBytes} byte(s) at the end of ${file}: a last write cut short (crash), ` +
            'never acknowledged.',
        });
      }
    }
    cache.lease = lease;
    cache.version = lease.version;
    addMark(cache, cache.count, { bytes: cache.bytes, lines: cache.lines });
    this.#remember(sessionId, cache);
    return cache;
  }

  #remember(sessionId: string, cache: HistoryCache): void {
    this.#history.delete(sessionId);
    this.#history.set(sessionId, cache);
    if (this.#history.size > MAX_CACHED_SESSIONS) {
      const oldest = this.#history.keys().next().value;
      if (oldest !== undefined) this.#history.delete(oldest);
    }
  }

  async #readHistory(sessionId: string, dir: string): Promise<LoadedHistory | undefined> {
    const file = join(dir, MESSAGES_FILE);
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (error) {
      if (codeOf(error) === 'ENOENT') return undefined;
      throw error;
    }
    try {
      const stats = await handle.stat();
      return await this.#readWhole(sessionId, dir, file, handle, stats);
    } finally {
      // Read-only: nothing to wait for, so the caller does not wait on another round trip.
      handle.close().catch(() => {});
    }
  }

  /** Reads a whole history file (open as `handle`), and primes the append cache with what it found. */
  async #readWhole(
    sessionId: string,
    dir: string,
    file: string,
    handle: FileHandle,
    stats: Stats,
  ): Promise<LoadedHistory> {
    const { dev, ino, size, birthtimeMs } = stats;
    const framed = await readRange(handle, 0, size, 1);
    const scan = scanHistory(framed, { file, fromStart: true, baseLines: 0, baseCount: 0, collect: true });
    const tail = lastBytes(Buffer.alloc(0), framed.subarray(1, 1 + scan.validBytes));
    const mark = { bytes: scan.validBytes, lines: scan.lines };
    // Prime the append cache, unless an append of this process may be changing it right now.
    const cache = this.#history.get(sessionId);
    const sameFile =
      cache !== undefined && cache.ino === ino && cache.dev === dev && cache.birth === birthtimeMs;
    if (!leaseBusy(dir) && (!sameFile || cache.bytes < scan.validBytes)) {
      const primed: HistoryCache = {
        dev,
        ino,
        birth: birthtimeMs,
        bytes: scan.validBytes,
        count: scan.count,
        lines: scan.lines,
        keys: scan.keys,
        tail,
        lease: undefined,
        version: 0,
        marks: sameFile ? cache.marks : new Map(),
      };
      addMark(primed, scan.count, mark);
      this.#remember(sessionId, primed);
    } else if (sameFile) {
      addMark(cache, scan.count, mark);
    }
    return { messages: scan.messages, scan, file };
  }

  /** The history after `cursor` (all of it when the cursor does not hold), or `undefined` when there is no history file. */
  async #readSince(
    sessionId: string,
    dir: string,
    cursor: HistoryCursor | undefined,
  ): Promise<(Omit<StoredTail, 'state'> & { torn?: number }) | undefined> {
    const file = join(dir, MESSAGES_FILE);
    if (cursor !== undefined) {
      // The usual case, nothing appended since: one `stat`, no open.
      let seen: Stats;
      try {
        seen = await stat(file);
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
      if (cursor.epoch === epochOf(seen) && this.#markAt(sessionId, seen, cursor.seq) === seen.size) {
        return { messages: [], from: cursor.seq, seq: cursor.seq, epoch: cursor.epoch };
      }
    }
    const handle = await openIfExists(file);
    if (handle === undefined) return undefined;
    try {
      const stats = await handle.stat();
      const epoch = epochOf(stats);
      if (cursor !== undefined && cursor.epoch === epoch) {
        const tail = await this.#readTail(sessionId, file, handle, stats, cursor);
        if (tail !== undefined) return { ...tail, epoch };
      }
      const { messages, scan } = await this.#readWhole(sessionId, dir, file, handle, stats);
      const from =
        cursor !== undefined && cursor.epoch === epoch && cursor.seq <= scan.count ? cursor.seq : 0;
      const torn = scan.tornBytes;
      return { messages: from === 0 ? messages : messages.slice(from), from, seq: scan.count, epoch, torn };
    } finally {
      // Read-only: nothing to wait for, so the caller does not wait on another round trip.
      handle.close().catch(() => {});
    }
  }

  /** Where the first `seq` messages end in the file `stats` describes, when this store knows it. */
  #markAt(sessionId: string, { dev, ino, birthtimeMs }: Stats, seq: number): number | undefined {
    const cache = this.#history.get(sessionId);
    if (!cache || cache.dev !== dev || cache.ino !== ino || cache.birth !== birthtimeMs) return undefined;
    return cache.marks.get(seq)?.bytes;
  }

  /**
   * The messages after `cursor`, read from where this store saw them end; `undefined` when it
   * does not know where that is (the caller then reads the whole file).
   */
  async #readTail(
    sessionId: string,
    file: string,
    handle: FileHandle,
    { dev, ino, size, birthtimeMs }: Stats,
    cursor: HistoryCursor,
  ): Promise<(Pick<StoredTail, 'messages' | 'from' | 'seq'> & { torn: number }) | undefined> {
    const cache = this.#history.get(sessionId);
    if (!cache || cache.dev !== dev || cache.ino !== ino || cache.birth !== birthtimeMs) return undefined;
    const mark = cache.marks.get(cursor.seq);
    if (mark === undefined || size < mark.bytes) return undefined;
    if (size === mark.bytes) return { messages: [], from: cursor.seq, seq: cursor.seq, torn: 0 };
    const framed = await readRange(handle, mark.bytes, size - mark.bytes, 1);
    let scan: ScanResult;
    try {
      scan = scanHistory(framed, {
        file,
        fromStart: mark.bytes === 0,
        baseLines: mark.lines,
        baseCount: cursor.seq,
        collect: true,
      });
    } catch {
      // Read the whole file instead: it names the damage (line numbers and all) if it is real.
      return undefined;
    }
    const seq = cursor.seq + scan.count;
    addMark(cache, seq, { bytes: mark.bytes + scan.validBytes, lines: mark.lines + scan.lines });
    return { messages: scan.messages, from: cursor.seq, seq, torn: scan.tornBytes };
  }

  /**
   * `state.json` of a session, read again only when its `stat` shows another file than the one
   * last read (for `loadSince`, called before every turn of a live session). A save replaces the
   * file: it gets another inode or birth time, and new times. Only where times are finer than a
   * millisecond and birth times are kept is the `stat` trusted; elsewhere the file is read.
   */
  async #readStateSince(sessionId: string, dir: string): Promise<SessionState | undefined> {
    const file = join(dir, STATE_FILE);
    let stats: BigIntStats;
    try {
      stats = await stat(file, { bigint: true });
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    const fine = stats.birthtimeNs > 0n && stats.mtimeNs % 1_000_000n !== 0n;
    const key = `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}:${stats.birthtimeNs}`;
    const known = this.#states.get(sessionId);
    if (fine && known?.key === key) return this.#parseState(file, known.text);
    const text = await this.#readStateText(file);
    if (text === undefined) return undefined;
    const state = this.#parseState(file, text);
    this.#states.delete(sessionId);
    if (fine) this.#states.set(sessionId, { key, text });
    if (this.#states.size > MAX_CACHED_SESSIONS) {
      const oldest = this.#states.keys().next().value;
      if (oldest !== undefined) this.#states.delete(oldest);
    }
    return state;
  }

  async #readStateText(file: string): Promise<string | undefined> {
    const handle = await openIfExists(file);
    if (handle === undefined) return undefined;
    try {
      return (await readToEnd(handle)).toString('utf8');
    } finally {
      handle.close().catch(() => {});
    }
  }

  async #readState(dir: string): Promise<SessionState | undefined> {
    const file = join(dir, STATE_FILE);
    const text = await this.#readStateText(file);
    return text === undefined ? undefined : this.#parseState(file, text);
  }

  #parseState(file: string, text: string): SessionState {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (cause) {
      throw new SessionCorruptError(
        `Corrupt session state ${file}: not valid JSON. Restore it from a backup.`,
        {
          file,
          cause,
        },
      );
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new SessionCorruptError(`Corrupt session state ${file}: not a JSON object.`, { file });
    }
    const version = (value as { schemaVersion?: unknown }).schemaVersion;
    if (version !== 1) {
      throw new SessionCorruptError(
        `Corrupt session state ${file}: unknown schemaVersion ${JSON.stringify(version)} (this version reads 1).`,
        { file },
      );
    }
    return value as SessionState;
  }

  async #exists(file: string): Promise<boolean> {
    try {
      await stat(file);
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }
}
