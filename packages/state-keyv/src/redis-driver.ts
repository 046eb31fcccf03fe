import { createHash } from 'node:crypto';
import type {
  AppendResult,
  HistoryCursor,
  SessionState,
  SessionSummary,
  StoredSession,
  StoredTail,
} from '@sessions/core';
import type { Keyv } from 'keyv';
import { processMutex } from './keyed-mutex.js';
import {
  type Batch,
  indexEntry,
  keyRoot,
  type NextState,
  newEpoch,
  newStateVersion,
  type StoreDriver,
  summaryOf,
  unknownEpoch,
  untilWritten,
} from './store-driver.js';
import { parseStored, storedMessage, storedState } from './validate.js';

/** The part of a `node-redis` client this driver uses. */
interface RedisClientLike {
  sendCommand(args: readonly string[]): Promise<unknown>;
}

/** The part of `@keyv/redis`'s adapter this driver uses. */
interface RedisAdapter {
  namespace?: string | undefined;
  getClient(): Promise<RedisClientLike>;
  createKeyPrefix(key: string, namespace?: string): string;
  isCluster(): boolean;
}

/** Whether `store` is `@keyv/redis`'s adapter (a `node-redis` client inside). */
export function isRedisAdapter(store: unknown): store is RedisAdapter {
  const s = store as Partial<RedisAdapter> | null;
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof s.getClient === 'function' &&
    typeof s.createKeyPrefix === 'function' &&
    typeof s.isCluster === 'function'
  );
}

/** How long `updateState` retries while other writes keep changing the state. */
const UPDATE_TIMEOUT_MS = 30_000;

/** How many sessions' last messages `list` reads in one script. */
const SUMMARY_PAGE = 500;

/**
 * A session's index entry or last message as `list` reads it: the parsed JSON, or `undefined` when
 * absent or not JSON (damaged), so one session's damage does not fail `list`.
 */
function parsedOrUndefined(json: string | null | undefined): unknown {
  if (typeof json !== 'string') return undefined;
  try {
    return JSON.parse(json);
  } catch {
    return undefined;
  }
}

class Script {
  readonly source: string;
  readonly sha: string;
  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }
}

/**
 * Lua helpers of the scripts that keep the epoch: it is a field of the session's index entry
 * (`{"epoch":...,"userId":...}`), so that `delete` (this version's or an older one's, which
 * removes the entry) removes it too, and an older version's `saveState` (which rewrites the entry)
 * drops it rather than leaving one a new history would inherit. The state's version is a field of
 * the entry too (`stateVersion`), written with the state, and dropped the same way by a version
 * that knows none.
 */
const EPOCH_LUA = `
local function decoded(entry)
  if not entry then return nil end
  local ok, t = pcall(cjson.decode, entry)
  if ok and type(t) == 'table' then return t end
  return nil
end
local function text(t, name)
  if t and type(t[name]) == 'string' then return t[name] end
  return nil
end
local function epoch_of(entry)
  return text(decoded(entry), 'epoch')
end
local function with_epoch(entry, epoch)
  local ok, t = pcall(cjson.decode, entry)
  if not ok or type(t) ~= 'table' or string.sub(entry, 1, 1) ~= '{' then return entry end
  local rest = string.sub(entry, 2)
  if string.match(rest, '^%s*}') then return '{"epoch":' .. cjson.encode(epoch) .. '}' end
  return '{"epoch":' .. cjson.encode(epoch) .. ',' .. rest
end
`;

// KEYS: messages, idem, index. ARGV: id, keyed ('1'|'0'), idempotency key, new epoch, messages...
// Returns { seq, 1 } when the idempotency key was recorded before (nothing written), else { seq, 0 }.
const APPEND = new Script(`${EPOCH_LUA}
local keyed = ARGV[2] == '1'
if keyed then
  local seq = redis.call('HGET', KEYS[2], ARGV[3])
  if seq then return { tonumber(seq), 1 } end
end
local n = redis.call('LLEN', KEYS[1])
if #ARGV < 5 then return { n, 0 } end
local i = 5
while i <= #ARGV do
  local j = math.min(i + 999, #ARGV)
  n = redis.call('RPUSH', KEYS[1], unpack(ARGV, i, j))
  i = j + 1
end
if keyed then redis.call('HSET', KEYS[2], ARGV[3], n) end
local entry = redis.call('HGET', KEYS[3], ARGV[1])
if not entry then
  redis.call('HSET', KEYS[3], ARGV[1], '{"epoch":' .. cjson.encode(ARGV[4]) .. '}')
elseif not epoch_of(entry) then
  redis.call('HSET', KEYS[3], ARGV[1], with_epoch(entry, ARGV[4]))
end
return { n, 0 }
`);

// KEYS: state, messages.
const LOAD = new Script(`
return { redis.call('GET', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1) }
`);

// KEYS: state, messages, index. ARGV: id, cursor seq ('' for none), cursor epoch, cursor state
// version ('' for none). Returns nil for no session, else { state, epoch, count, from, messages
// after from, state version, 1 when the state is the cursor's version (then not sent) else 0 }.
const LOAD_SINCE = new Script(`${EPOCH_LUA}
local n = redis.call('LLEN', KEYS[2])
local entry = decoded(redis.call('HGET', KEYS[3], ARGV[1]))
local epoch = text(entry, 'epoch')
local version = text(entry, 'stateVersion')
local held = epoch ~= nil and ARGV[2] ~= '' and ARGV[3] == epoch
local state = false
local unchanged = 0
if held and version and ARGV[4] ~= '' and ARGV[4] == version and redis.call('EXISTS', KEYS[1]) == 1 then
  unchanged = 1
else
  state = redis.call('GET', KEYS[1])
  if not state then version = nil end
end
if n == 0 and not state and unchanged == 0 then return false end
local from = 0
if held then
  local seq = tonumber(ARGV[2])
  if seq and seq <= n then from = seq end
end
local list = {}
if from < n then list = redis.call('LRANGE', KEYS[2], from - n, -1) end
return { state, epoch or false, n, from, list, version or false, unchanged }
`);

// KEYS: state, index. ARGV: id, state, index entry (without epoch, with the new state version),
// new epoch.
const SAVE_STATE = new Script(`${EPOCH_LUA}
redis.call('SET', KEYS[1], ARGV[2])
local epoch = epoch_of(redis.call('HGET', KEYS[2], ARGV[1])) or ARGV[4]
redis.call('HSET', KEYS[2], ARGV[1], with_epoch(ARGV[3], epoch))
return 1
`);

// KEYS: state, index. ARGV: id, state, index entry (without epoch, with the new state version),
// new epoch, '1' when a state
// was read (else '0'), the state read. Writes as SAVE_STATE only while the state stored is the one
// read: returns { 1 }, else { 0, the state stored now }.
const UPDATE_STATE = new Script(`${EPOCH_LUA}
local current = redis.call('GET', KEYS[1])
if (ARGV[5] == '1' and current ~= ARGV[6]) or (ARGV[5] ~= '1' and current) then
  return { 0, current }
end
redis.call('SET', KEYS[1], ARGV[2])
local epoch = epoch_of(redis.call('HGET', KEYS[2], ARGV[1])) or ARGV[4]
redis.call('HSET', KEYS[2], ARGV[1], with_epoch(ARGV[3], epoch))
return { 1 }
`);

// KEYS: message lists. Returns each list's last element (false for an empty list, or a key that
// is not a list: `list` does not fail on one session's damage).
const LAST_MESSAGES = new Script(`
local out = {}
for i, key in ipairs(KEYS) do
  local last = redis.pcall('LINDEX', key, -1)
  if type(last) ~= 'string' then last = false end
  out[i] = last
end
return out
`);

// KEYS: state, messages, idem, index. ARGV: id.
const DELETE = new Script(`
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('HDEL', KEYS[4], ARGV[1])
return 1
`);

/**
 * Sessions in Redis through `@keyv/redis`'s client, every operation one Lua script (atomic on the
 * server, so any number of processes may share the database):
 *
 * - `{root}:{id}:messages` a list of messages (JSON), `RPUSH` gives the seq;
 *   `{root}:{id}:idem` a hash idempotency key → seq; `{root}:{id}:state` the state (JSON);
 *   `{root}:~sessions` a hash id → index entry (epoch, userId, createdAt, updatedAt and the
 *   state's version, as JSON).
 * - Keys get the adapter's own namespace prefix too (`keyv::keyv:sessions:...` by default).
 */
export class RedisDriver implements StoreDriver {
  readonly #keyv: Keyv;
  readonly #store: RedisAdapter;
  readonly #prefix: string;

  constructor(keyv: Keyv, store: RedisAdapter, prefix: string) {
    this.#keyv = keyv;
    this.#store = store;
    this.#prefix = prefix;
  }

  async load(sessionId: string): Promise<StoredSession | undefined> {
    const keys = this.#keys(sessionId);
    const [stateJson, list] = (await this.#run(LOAD, [keys.state, keys.messages], [])) as [
      string | null,
      string[],
    ];
    if (stateJson === null && list.length === 0) return undefined;
    const state =
      stateJson === null ? undefined : storedState(parseStored(stateJson, keys.state), keys.state);
    const messages = list.map((json, i) =>
      storedMessage(parseStored(json, `${keys.messages}[${i}]`), `${keys.messages}[${i}]`),
    );
    return { state, messages };
  }

  async loadSince(sessionId: string, cursor: HistoryCursor | undefined): Promise<StoredTail | undefined> {
    const keys = this.#keys(sessionId);
    const reply = (await this.#run(
      LOAD_SINCE,
      [keys.state, keys.messages, keys.index],
      [
        sessionId,
        cursor === undefined ? '' : String(cursor.seq),
        cursor?.epoch ?? '',
        cursor?.stateVersion ?? '',
      ],
    )) as [string | null, string | null, number, number, string[], string | null, number] | null;
    if (reply === null) return undefined;
    const [stateJson, epoch, seq, from, list, version, unchanged] = reply;
    const state =
      stateJson === null ? undefined : storedState(parseStored(stateJson, keys.state), keys.state);
    const messages = list.map((json, i) => {
      const key = `${keys.messages}[${from + i}]`;
      return storedMessage(parseStored(json, key), key);
    });
    const tail: StoredTail = {
      state,
      messages,
      from: Number(from),
      seq: Number(seq),
      epoch: epoch ?? unknownEpoch(),
    };
    if (version !== null) tail.stateVersion = version;
    if (Number(unchanged) === 1) tail.stateUnchanged = true;
    return tail;
  }

  async append(sessionId: string, batch: Batch): Promise<AppendResult> {
    const keys = this.#keys(sessionId);
    const keyed = batch.idempotencyKey !== undefined;
    const [seq, replayed] = (await this.#run(
      APPEND,
      [keys.messages, keys.idem, keys.index],
      [sessionId, keyed ? '1' : '0', batch.idempotencyKey ?? '', newEpoch(), ...batch.json],
    )) as [number, number];
    return keyed ? { seq: Number(seq), replayed: Number(replayed) === 1 } : { seq: Number(seq) };
  }

  async saveState(sessionId: string, state: SessionState, json: string): Promise<void> {
    const keys = this.#keys(sessionId);
    await this.#run(
      SAVE_STATE,
      [keys.state, keys.index],
      [sessionId, json, JSON.stringify(indexEntry(state, newStateVersion())), newEpoch()],
    );
  }

  /**
   * Reads the state (`GET`), then writes `next(current)` with one script that writes only while
   * the state stored is still the one read, as `saveState` writes. Lost to another write (any
   * process), it retries from the state the script answered. Updates of one session in this
   * process take turns, so they do not race each other.
   */
  async updateState(sessionId: string, next: NextState): Promise<string> {
    const keys = this.#keys(sessionId);
    return processMutex().run(`redis-update:${keys.state}`, async () => {
      const client = await this.#store.getClient();
      let read = (await client.sendCommand(['GET', keys.state])) as string | null;
      return untilWritten<string>(
        async () => {
          const current = read === null ? undefined : storedState(parseStored(read, keys.state), keys.state);
          const { state, json } = next(current);
          const [won, now] = (await this.#run(
            UPDATE_STATE,
            [keys.state, keys.index],
            [
              sessionId,
              json,
              JSON.stringify(indexEntry(state, newStateVersion())),
              newEpoch(),
              read === null ? '0' : '1',
              read ?? '',
            ],
          )) as [number, string | null | undefined];
          if (Number(won) === 1) return { written: true, value: json };
          read = now ?? null;
          return { written: false };
        },
        UPDATE_TIMEOUT_MS,
        `updateState of session "${sessionId}"`,
      );
    });
  }

  async *summaries(): AsyncIterable<SessionSummary> {
    const index = this.#full(`${keyRoot(this.#keyv, this.#prefix)}:~sessions`);
    const client = await this.#store.getClient();
    const entries = new Map<string, string>();
    let cursor = '0';
    do {
      const [next, flat] = (await client.sendCommand(['HSCAN', index, cursor, 'COUNT', '500'])) as [
        string,
        string[],
      ];
      for (let i = 0; i + 1 < flat.length; i += 2) entries.set(flat[i]!, flat[i + 1]!);
      cursor = String(next);
    } while (cursor !== '0');
    const ids = [...entries.keys()].sort();
    // Each page's last messages (a session's list's last element, never its history) in one script.
    for (let i = 0; i < ids.length; i += SUMMARY_PAGE) {
      const page = ids.slice(i, i + SUMMARY_PAGE);
      const lasts = (await this.#run(
        LAST_MESSAGES,
        page.map((id) => this.#keys(id).messages),
        [],
      )) as Array<string | null>;
      for (const [j, id] of page.entries()) {
        // A damaged entry (not JSON) lists the session with what its last message tells.
        yield summaryOf(id, parsedOrUndefined(entries.get(id)), parsedOrUndefined(lasts[j]));
      }
    }
  }

  async delete(sessionId: string): Promise<void> {
    const keys = this.#keys(sessionId);
    await this.#run(DELETE, [keys.state, keys.messages, keys.idem, keys.index], [sessionId]);
  }

  async close(): Promise<void> {}

  /** A key as stored in Redis: Keyv's prefix, then the adapter's (`namespace::`). */
  #full(key: string): string {
    return this.#store.createKeyPrefix(key, this.#store.namespace);
  }

  #keys(sessionId: string) {
    const root = keyRoot(this.#keyv, this.#prefix);
    const session = `${root}:${sessionId}`;
    return {
      messages: this.#full(`${session}:messages`),
      idem: this.#full(`${session}:idem`),
      state: this.#full(`${session}:state`),
      index: this.#full(`${root}:~sessions`),
    };
  }

  async #run(script: Script, keys: string[], args: string[]): Promise<unknown> {
    const client = await this.#store.getClient();
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await client.sendCommand(['EVALSHA', script.sha, ...tail]);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return client.sendCommand(['EVAL', script.source, ...tail]);
    }
  }
}
