import {
  type AppendResult,
  type HistoryCursor,
  type Message,
  type SessionState,
  type SessionSummary,
  type StoredSession,
  type StoredTail,
  TimeoutError,
} from '@sessions/core';
import type { Keyv } from 'keyv';
import { processMutex } from './keyed-mutex.js';
import {
  type Batch,
  type IndexEntry,
  indexEntry,
  KeyvCodec,
  keyRoot,
  type NextState,
  newEpoch,
  newStateVersion,
  type StoreDriver,
  summaryOf,
  unknownEpoch,
  unlessDamaged,
  untilWritten,
} from './store-driver.js';
import { hashKey, parseStored, seqPart, storedMessage, storedState } from './validate.js';

/** The part of `@keyv/sqlite`'s adapter this driver uses: its table and its query function. */
interface SqliteAdapter {
  opts: { dialect: 'sqlite'; table: string };
  query(sql: string, ...params: unknown[]): Promise<unknown>;
}

interface Row {
  key: string;
  value: string;
}

/** Whether `store` is `@keyv/sqlite`'s adapter (it runs SQL on the Keyv table). */
export function isSqliteAdapter(store: unknown): store is SqliteAdapter {
  const s = store as Partial<SqliteAdapter> | null;
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof s.query === 'function' &&
    s.opts?.dialect === 'sqlite' &&
    typeof s.opts.table === 'string'
  );
}

const PAGE = 500;

/**
 * Whether the index entry row at hand names the state version `$version` (false when `$version`
 * is null, or the entry is not JSON: a Keyv that compresses or serializes otherwise).
 */
const SAME_VERSION = `json_valid(value) AND json_extract(value, '$.value.stateVersion') = $version`;

/** The keys of one session (and its index entry). */
interface SessionKeys {
  /** Every key of the session is in (lo, hi): `;` follows `:`, and ids have no `:`. */
  lo: string;
  hi: string;
  state: string;
  epoch: string;
  msgLo: string;
  msgHi: string;
  index: string;
  idem(key: string): string;
}

function isBusy(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return code === 'SQLITE_BUSY' || (error instanceof Error && error.message.includes('SQLITE_BUSY'));
}

/**
 * Sessions in the Keyv table of a SQLite database, each operation one SQL statement (so atomic,
 * and isolated from other connections and processes by SQLite itself):
 *
 * - `{root}:{id}:msg:{seq, 10 digits}` a message; `{root}:{id}:state` the state;
 *   `{root}:{id}:idem:{sha256(key)}` the seq an idempotency key got; `{root}:{id}:epoch` the
 *   session's epoch; `{root}:~sessions:{id}` the session's entry in the index (userId, createdAt,
 *   updatedAt, and the version of the state, written with it by `saveState` and `updateState`).
 * - An append is one `INSERT ... SELECT` that reads the last seq and writes the messages, the
 *   idempotency record, the index entry and the epoch (if the session has none yet), unless the
 *   idempotency record exists.
 * - A tail is one `SELECT`: the messages after the cursor, the state (unless the index entry names
 *   the cursor's version), the index entry, the last seq and whether the epoch is the cursor's
 *   (compared as stored); when the cursor does not hold, a second `SELECT` of the whole session.
 */
export class SqliteDriver implements StoreDriver {
  readonly #keyv: Keyv;
  readonly #store: SqliteAdapter;
  readonly #prefix: string;
  readonly #codec: KeyvCodec;
  readonly #busyTimeoutMs: number;

  constructor(keyv: Keyv, store: SqliteAdapter, prefix: string, busyTimeoutMs: number) {
    this.#keyv = keyv;
    this.#store = store;
    this.#prefix = prefix;
    this.#codec = new KeyvCodec(keyv);
    this.#busyTimeoutMs = busyTimeoutMs;
  }

  async load(sessionId: string): Promise<StoredSession | undefined> {
    const keys = this.#keys(sessionId);
    const rows = await this.#query(
      `SELECT key, value FROM ${this.#table} WHERE key = $state
       UNION ALL SELECT key, value FROM ${this.#table} WHERE key > $mlo AND key < $mhi`,
      { $state: keys.state, $mlo: keys.msgLo, $mhi: keys.msgHi },
    );
    if (rows.length === 0) return undefined;
    let state: SessionState | undefined;
    const messageRows: Row[] = [];
    for (const row of rows) {
      if (row.key === keys.state) state = storedState(await this.#codec.decode(row.value, row.key), row.key);
      else messageRows.push(row);
    }
    return { state, messages: await this.#messages(messageRows) };
  }

  /**
   * Each answer from one statement, so one snapshot. With a cursor, a statement that takes it to hold: the messages
   * after it, the state unless the cursor names its version, the last seq and whether the epoch
   * is the cursor's; when the cursor does not hold after all (another epoch, past the end), a
   * second statement reads the whole session, as without a cursor. (Preparing each statement is
   * most of its cost, so they are kept flat.)
   */
  async loadSince(sessionId: string, cursor: HistoryCursor | undefined): Promise<StoredTail | undefined> {
    const keys = this.#keys(sessionId);
    if (cursor !== undefined) {
      const tail = await this.#tailAfter(keys, cursor);
      if (tail !== undefined) return tail;
    }
    return this.#wholeTail(keys);
  }

  /** The tail after `cursor`, or `undefined` when the cursor does not hold. */
  async #tailAfter(keys: SessionKeys, cursor: HistoryCursor): Promise<StoredTail | undefined> {
    // The state row is left out when the index entry (which every state write rewrites, with the
    // state's version or, by an older version of this package, without) names the cursor's
    // version; the index entry is then answered as '', else as it is.
    const rows = await this.#query(
      `SELECT key, value FROM ${this.#table} WHERE key > $after AND key < $mhi
       UNION ALL SELECT key, value FROM ${this.#table} WHERE key = $state AND NOT EXISTS (
         SELECT 1 FROM ${this.#table} WHERE key = $index AND ${SAME_VERSION})
       UNION ALL SELECT key, CASE WHEN ${SAME_VERSION} THEN '' ELSE value END FROM ${this.#table}
         WHERE key = $index
       UNION ALL SELECT '', ifnull((SELECT substr(key, -10) FROM ${this.#table}
                                    WHERE key > $mlo AND key < $mhi ORDER BY key DESC LIMIT 1), '0')
         || ':' || EXISTS (SELECT 1 FROM ${this.#table} WHERE key = $epoch AND value = $held)`,
      {
        $after: keys.msgLo + seqPart(cursor.seq),
        $mlo: keys.msgLo,
        $mhi: keys.msgHi,
        $state: keys.state,
        $index: keys.index,
        $version: cursor.stateVersion ?? null,
        $epoch: keys.epoch,
        $held: await this.#codec.encodeText(cursor.epoch),
      },
    );
    let stateRow: Row | undefined;
    let indexRow: Row | undefined;
    let seq = 0;
    let held = false;
    const messageRows: Row[] = [];
    for (const row of rows) {
      if (row.key === '') {
        const colon = row.value.indexOf(':');
        seq = Number(row.value.slice(0, colon));
        held = row.value.slice(colon + 1) === '1';
      } else if (row.key === keys.state) stateRow = row;
      else if (row.key === keys.index) indexRow = row;
      else messageRows.push(row);
    }
    if (!held || cursor.seq > seq) return undefined;
    const messages = await this.#messages(messageRows);
    const tail: StoredTail = { state: undefined, messages, from: cursor.seq, seq, epoch: cursor.epoch };
    if (indexRow?.value === '' && cursor.stateVersion !== undefined) {
      tail.stateVersion = cursor.stateVersion;
      tail.stateUnchanged = true;
    } else if (stateRow !== undefined) {
      tail.state = storedState(await this.#codec.decode(stateRow.value, stateRow.key), stateRow.key);
      const version = indexRow === undefined ? undefined : await this.#versionIn(indexRow);
      if (version !== undefined) tail.stateVersion = version;
    }
    return tail;
  }

  /** The state and the whole history (`undefined` when the session has neither). */
  async #wholeTail(keys: SessionKeys): Promise<StoredTail | undefined> {
    const rows = await this.#query(
      `SELECT key, value FROM ${this.#table} WHERE key > $mlo AND key < $mhi
       UNION ALL SELECT key, value FROM ${this.#table} WHERE key IN ($state, $index, $epoch)`,
      { $mlo: keys.msgLo, $mhi: keys.msgHi, $state: keys.state, $index: keys.index, $epoch: keys.epoch },
    );
    let state: SessionState | undefined;
    let epoch: string | undefined;
    let indexRow: Row | undefined;
    const messageRows: Row[] = [];
    for (const row of rows) {
      if (row.key === keys.state) {
        state = storedState(await this.#codec.decode(row.value, row.key), row.key);
      } else if (row.key === keys.epoch) {
        const value = await this.#codec.decode(row.value, row.key);
        if (typeof value === 'string') epoch = value;
      } else if (row.key === keys.index) {
        indexRow = row;
      } else {
        messageRows.push(row);
      }
    }
    const messages = await this.#messages(messageRows);
    const last = messageRows[messageRows.length - 1];
    const seq = last === undefined ? 0 : Number(last.key.slice(-10));
    if (state === undefined && seq === 0) return undefined;
    const tail: StoredTail = { state, messages, from: 0, seq, epoch: epoch ?? unknownEpoch() };
    const version =
      state === undefined || indexRow === undefined ? undefined : await this.#versionIn(indexRow);
    if (version !== undefined) tail.stateVersion = version;
    return tail;
  }

  /** The state version an index entry names, if any. */
  async #versionIn(row: Row): Promise<string | undefined> {
    const entry = (await this.#codec.decode(row.value, row.key)) as IndexEntry | undefined;
    const version = typeof entry === 'object' && entry !== null ? entry.stateVersion : undefined;
    return typeof version === 'string' && version !== '' ? version : undefined;
  }

  async append(sessionId: string, batch: Batch): Promise<AppendResult> {
    const keys = this.#keys(sessionId);
    const idem = batch.idempotencyKey === undefined ? null : keys.idem(batch.idempotencyKey);
    if (batch.messages.length === 0) {
      if (idem === null) return { seq: await this.#count(keys) };
      const recorded = await this.#recorded(idem);
      if (recorded !== undefined) return { seq: recorded, replayed: true };
      return { seq: await this.#count(keys), replayed: false };
    }
    const values = await Promise.all(batch.messages.map((m) => this.#codec.encodeText(m)));
    const rows = await this.#query(
      `WITH base(n) AS MATERIALIZED (
         SELECT coalesce((SELECT CAST(substr(key, -10) AS INTEGER) FROM ${this.#table}
                          WHERE key > $mlo AND key < $mhi ORDER BY key DESC LIMIT 1), 0)
       ),
       rows(key, value) AS (
         SELECT $mlo || printf('%010d', base.n + j.key + 1), j.value FROM base, json_each($values) AS j
         UNION ALL SELECT $idem, json_object('value', base.n + $count) FROM base WHERE $idem IS NOT NULL
         UNION ALL SELECT $index, $empty
         UNION ALL SELECT $epoch, $newEpoch
       )
       INSERT INTO ${this.#table} (key, value)
       SELECT key, value FROM rows WHERE NOT EXISTS (SELECT 1 FROM ${this.#table} WHERE key = $idem)
       ON CONFLICT(key) DO NOTHING
       RETURNING key`,
      {
        $mlo: keys.msgLo,
        $mhi: keys.msgHi,
        $values: JSON.stringify(values),
        $idem: idem,
        $count: batch.messages.length,
        $index: keys.index,
        $empty: await this.#codec.encodeText({}),
        $epoch: keys.epoch,
        $newEpoch: await this.#codec.encodeText(newEpoch()),
      },
    );
    let seq = 0;
    let written = 0;
    for (const { key } of rows) {
      if (!key.startsWith(keys.msgLo)) continue;
      written++;
      seq = Math.max(seq, Number(key.slice(-10)));
    }
    if (written === batch.messages.length) return idem === null ? { seq } : { seq, replayed: false };
    // Nothing written: the idempotency key was recorded before (by any process).
    const recorded = idem === null ? undefined : await this.#recorded(idem);
    if (written === 0 && recorded !== undefined) return { seq: recorded, replayed: true };
    throw new Error(
      `SQLite append to session "${sessionId}" wrote ${written} of ${batch.messages.length} messages`,
    );
  }

  /** Writes the state, its index entry (with a new state version) and the epoch (if none): one statement. */
  async saveState(sessionId: string, state: SessionState): Promise<void> {
    const keys = this.#keys(sessionId);
    await this.#query(
      `INSERT INTO ${this.#table} (key, value) VALUES ($state, $value), ($index, $entry), ($epoch, $newEpoch)
       ON CONFLICT(key) DO UPDATE SET value = excluded.value WHERE excluded.key <> $epoch`,
      await this.#stateWrite(keys, state),
    );
  }

  /** The parameters of a state write: the state, its index entry with a new version, an epoch. */
  async #stateWrite(keys: SessionKeys, state: SessionState): Promise<Record<string, unknown>> {
    return {
      $state: keys.state,
      $value: await this.#codec.encodeText(state),
      $index: keys.index,
      $entry: await this.#codec.encodeText(indexEntry(state, newStateVersion())),
      $epoch: keys.epoch,
      $newEpoch: await this.#codec.encodeText(newEpoch()),
    };
  }

  /**
   * Reads the state, then writes `next(current)` with one statement that writes only while the
   * state stored is still the one read (compared as stored, so a write by any version of this
   * package counts): the state, its index entry (with a new state version) and the epoch (if
   * none), as `saveState`. Lost to another write (any process), it reads again and
   * retries. Updates of one session in this process take turns, so they do not race each other.
   */
  async updateState(sessionId: string, next: NextState): Promise<string> {
    const keys = this.#keys(sessionId);
    return processMutex().run(`sqlite-update:${this.#table}:${keys.state}`, () =>
      untilWritten<string>(
        async () => {
          const [row] = await this.#query(`SELECT key, value FROM ${this.#table} WHERE key = $state`, {
            $state: keys.state,
          });
          const current =
            row === undefined
              ? undefined
              : storedState(await this.#codec.decode(row.value, row.key), row.key);
          const { state, json } = next(current);
          const rows = await this.#query(
            `INSERT INTO ${this.#table} (key, value)
             SELECT column1, column2 FROM (VALUES ($state, $value), ($index, $entry), ($epoch, $newEpoch))
             WHERE (SELECT value FROM ${this.#table} WHERE key = $state) IS $expected
             ON CONFLICT(key) DO UPDATE SET value = excluded.value WHERE excluded.key <> $epoch
             RETURNING key`,
            { ...(await this.#stateWrite(keys, state)), $expected: row === undefined ? null : row.value },
          );
          return rows.some((r) => r.key === keys.state) ? { written: true, value: json } : { written: false };
        },
        this.#busyTimeoutMs,
        `updateState of session "${sessionId}"`,
      ),
    );
  }

  /**
   * Pages of index entries in key order (so sorted by id), one statement each, which also reads
   * each listed session's last message row: an index seek (`ORDER BY key DESC LIMIT 1` over the
   * session's message keys), never its history.
   */
  async *summaries(): AsyncIterable<SessionSummary> {
    const root = keyRoot(this.#keyv, this.#prefix);
    const start = `${root}:~sessions:`;
    const end = `${start.slice(0, -1)};`;
    let after = start;
    for (;;) {
      const rows = (await this.#query(
        `SELECT i.key AS key, i.value AS value,
           (SELECT m.value FROM ${this.#table} AS m
             WHERE m.key > $root || substr(i.key, $cut) || ':msg:'
               AND m.key < $root || substr(i.key, $cut) || ':msg;'
             ORDER BY m.key DESC LIMIT 1) AS last
         FROM ${this.#table} AS i WHERE i.key > $after AND i.key < $end ORDER BY i.key LIMIT ${PAGE}`,
        { $after: after, $end: end, $root: `${root}:`, $cut: start.length + 1 },
      )) as Array<Row & { last: string | null }>;
      for (const row of rows) {
        const id = row.key.slice(start.length);
        // A damaged entry or last message lists the session with what the other tells.
        yield summaryOf(
          id,
          await unlessDamaged(() => this.#codec.decode(row.value, row.key)),
          await unlessDamaged(() => this.#codec.decode(row.last, `${root}:${id}:msg:`)),
        );
      }
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1]!.key;
    }
  }

  async delete(sessionId: string): Promise<void> {
    const keys = this.#keys(sessionId);
    await this.#query(
      `DELETE FROM ${this.#table} WHERE key IN (
         SELECT key FROM ${this.#table} WHERE key > $lo AND key < $hi UNION ALL SELECT $index)`,
      { $lo: keys.lo, $hi: keys.hi, $index: keys.index },
    );
  }

  async close(): Promise<void> {}

  get #table(): string {
    return this.#store.opts.table;
  }

  #keys(sessionId: string): SessionKeys {
    const root = keyRoot(this.#keyv, this.#prefix);
    const session = `${root}:${sessionId}`;
    return {
      lo: `${session}:`,
      hi: `${session};`,
      state: `${session}:state`,
      epoch: `${session}:epoch`,
      msgLo: `${session}:msg:`,
      msgHi: `${session}:msg;`,
      index: `${root}:~sessions:${sessionId}`,
      idem: (key: string): string => `${session}:idem:${hashKey(key)}`,
    };
  }

  async #count(keys: { msgLo: string; msgHi: string }): Promise<number> {
    const rows = await this.#query(
      `SELECT key, value FROM ${this.#table} WHERE key > $mlo AND key < $mhi ORDER BY key DESC LIMIT 1`,
      { $mlo: keys.msgLo, $mhi: keys.msgHi },
    );
    return rows[0] ? Number(rows[0].key.slice(-10)) : 0;
  }

  /** Message rows (any order) as messages, in key order: the order of their seqs. */
  async #messages(rows: Row[]): Promise<Message[]> {
    rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return Promise.all(
      rows.map(async (row) => storedMessage(await this.#codec.decode(row.value, row.key), row.key)),
    );
  }

  /** The seq recorded for an idempotency key, if any. */
  async #recorded(idemKey: string): Promise<number | undefined> {
    const rows = await this.#query(`SELECT key, value FROM ${this.#table} WHERE key = $key`, {
      $key: idemKey,
    });
    if (!rows[0]) return undefined;
    const value = (parseStored(rows[0].value, idemKey) as { value?: unknown }).value;
    return typeof value === 'number' ? value : undefined;
  }

  /** Runs one statement, retrying while another connection (or process) holds the database lock. */
  async #query(sql: string, params: Record<string, unknown>): Promise<Row[]> {
    const deadline = Date.now() + this.#busyTimeoutMs;
    let wait = 2;
    for (;;) {
      try {
        return (await this.#store.query(sql, params)) as Row[];
      } catch (error) {
        if (!isBusy(error)) throw error;
        if (Date.now() >= deadline) {
          throw new TimeoutError(
            `The SQLite database stayed locked by another connection for ${this.#busyTimeoutMs} ms (busyTimeoutMs)`,
            { cause: error },
          );
        }
        await new Promise((resolve) => setTimeout(resolve, wait * (0.5 + Math.random())));
        wait = Math.min(wait * 2, 50);
      }
    }
  }
}
