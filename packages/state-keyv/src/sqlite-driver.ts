import {
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
  type StoreDriver,
  summaryOf,
  unknownEpoch,
  untilWritten,
} from './store-driver.js';
import { hashKey, parseStored, storedMessage, storedState } from './validate.js';

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
 *   updatedAt).
 * - An append is one `INSERT ... SELECT` that reads the last seq and writes the messages, the
 *   idempotency record, the index entry and the epoch (if the session has none yet), unless the
 *   idempotency record exists.
 * - A tail is one `SELECT`: the state, the epoch, the last seq, and the messages after the cursor
 *   when the epoch is the cursor's (compared as stored) and the history that long, else all.
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

  async loadSince(sessionId: string, cursor: HistoryCursor | undefined): Promise<StoredTail | undefined> {
    const keys = this.#keys(sessionId);
    // One statement, so one snapshot: the epoch, the count and the messages agree.
    const rows = await this.#query(
      `WITH last(n) AS MATERIALIZED (
         SELECT coalesce((SELECT CAST(substr(key, -10) AS INTEGER) FROM ${this.#table}
                          WHERE key > $mlo AND key < $mhi ORDER BY key DESC LIMIT 1), 0)
       ),
       start(n) AS MATERIALIZED (
         SELECT CASE WHEN $seq IS NOT NULL AND $seq <= last.n
                       AND EXISTS (SELECT 1 FROM ${this.#table} WHERE key = $epoch AND value = $held)
                     THEN $seq ELSE 0 END FROM last
       )
       SELECT key, value FROM ${this.#table} WHERE key = $state
       UNION ALL SELECT key, value FROM ${this.#table} WHERE key = $epoch
       UNION ALL SELECT '', last.n || ':' || start.n FROM last, start
       UNION ALL SELECT key, value FROM ${this.#table}, start
         WHERE key > $mlo || printf('%010d', start.n) AND key < $mhi`,
      {
        $mlo: keys.msgLo,
        $mhi: keys.msgHi,
        $state: keys.state,
        $epoch: keys.epoch,
        $seq: cursor?.seq ?? null,
        $held: cursor === undefined ? null : await this.#codec.encodeText(cursor.epoch),
      },
    );
    let state: SessionState | undefined;
    let epoch: string | undefined;
    let seq = 0;
    let from = 0;
    let exists = false;
    const messageRows: Row[] = [];
    for (const row of rows) {
      if (row.key === '') {
        const [n, start] = row.value.split(':');
        seq = Number(n);
        from = Number(start);
      } else if (row.key === keys.state) {
        exists = true;
        state = storedState(await this.#codec.decode(row.value, row.key), row.key);
      } else if (row.key === keys.epoch) {
        const value = await this.#codec.decode(row.value, row.key);
        if (typeof value === 'string') epoch = value;
      } else {
        messageRows.push(row);
      }
    }
    if (!exists && seq === 0) return undefined;
    return { state, messages: await this.#messages(messageRows), from, seq, epoch: epoch ?? unknownEpoch() };
  }

  async append(sessionId: string, batch: Batch): Promise<number> {
    const keys = this.#keys(sessionId);
    const idem = batch.idempotencyKey === undefined ? null : keys.idem(batch.idempotencyKey);
    if (batch.messages.length === 0) {
      return (idem !== null && (await this.#recorded(idem))) || this.#count(keys);
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
    if (written === batch.messages.length) return seq;
    // Nothing written: the idempotency key was recorded before (by any process).
    const recorded = idem === null ? undefined : await this.#recorded(idem);
    if (written === 0 && recorded !== undefined) return recorded;
    throw new Error(
      `SQLite append to session "${sessionId}" wrote ${written} of ${batch.messages.length} messages`,
    );
  }

  async saveState(sessionId: string, state: SessionState): Promise<void> {
    const keys = this.#keys(sessionId);
    await this.#query(
      `INSERT INTO ${this.#table} (key, value) VALUES ($state, $value), ($index, $entry), ($epoch, $newEpoch)
       ON CONFLICT(key) DO UPDATE SET value = excluded.value WHERE excluded.key <> $epoch`,
      {
        $state: keys.state,
        $value: await this.#codec.encodeText(state),
        $index: keys.index,
        $entry: await this.#codec.encodeText(indexEntry(state)),
        $epoch: keys.epoch,
        $newEpoch: await this.#codec.encodeText(newEpoch()),
      },
    );
  }

  /**
   * Reads the state, then writes `next(current)` with one statement that writes only while the
   * state stored is still the one read (compared as stored): the state, its index entry and the
   * epoch (if none), as `saveState`. Lost to another write (any process), it reads again and
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
            {
              $state: keys.state,
              $value: await this.#codec.encodeText(state),
              $index: keys.index,
              $entry: await this.#codec.encodeText(indexEntry(state)),
              $epoch: keys.epoch,
              $newEpoch: await this.#codec.encodeText(newEpoch()),
              $expected: row === undefined ? null : row.value,
            },
          );
          return rows.some((r) => r.key === keys.state) ? { written: true, value: json } : { written: false };
        },
        this.#busyTimeoutMs,
        `updateState of session "${sessionId}"`,
      ),
    );
  }

  async *summaries(): AsyncIterable<SessionSummary> {
    const start = `${keyRoot(this.#keyv, this.#prefix)}:~sessions:`;
    const end = `${start.slice(0, -1)};`;
    let after = start;
    for (;;) {
      const rows = await this.#query(
        `SELECT key, value FROM ${this.#table} WHERE key > $after AND key < $end ORDER BY key LIMIT ${PAGE}`,
        { $after: after, $end: end },
      );
      for (const row of rows) {
        const entry = (await this.#codec.decode(row.value, row.key)) as IndexEntry | undefined;
        yield summaryOf(row.key.slice(start.length), entry);
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

  #keys(sessionId: string) {
    const root = keyRoot(this.#keyv, this.#prefix);
    const session = `${root}:${sessionId}`;
    return {
      /** Every key of the session is in (lo, hi): `;` follows `:`, and ids have no `:`. */
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
