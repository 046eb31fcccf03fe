import { isAscii } from 'node:buffer';
import { type Message, SessionCorruptError } from '@sessions/core';

/** The format version of `messages.jsonl`, in its first line: `{"schemaVersion":1,...}`. */
export const HISTORY_SCHEMA_VERSION = 1;

/**
 * `messages.jsonl` is a header line, then one message per line. An append of more than one
 * message, or made with an idempotency key, starts with a batch line `{"batch":n,"key":"..."}`
 * so that a batch cut short by a crash is recognised whole and a key is found again after a
 * restart. Every append (or group of appends written together) is one `write`.
 */
interface HeaderLine {
  schemaVersion: number;
  sessionId?: string;
}

interface BatchLine {
  batch: number;
  key?: string;
}

/** The first line of a new history file. */
export function encodeHeader(sessionId: string): string {
  return `${JSON.stringify({ schemaVersion: HISTORY_SCHEMA_VERSION, sessionId })}\n`;
}

/** The lines of one append, each ending with `\n`. */
export function encodeBatch(messages: readonly Message[], idempotencyKey?: string): string {
  let out = '';
  if (messages.length > 1 || idempotencyKey !== undefined) {
    const batch: BatchLine = { batch: messages.length };
    if (idempotencyKey !== undefined) batch.key = idempotencyKey;
    out += `${JSON.stringify(batch)}\n`;
  }
  for (const message of messages) out += `${JSON.stringify(message)}\n`;
  return out;
}

export interface ScanOptions {
  /** The file, for error messages. */
  file: string;
  /** Whether the chunk is the start of the file (so begins with the header line). */
  fromStart: boolean;
  /** Lines before the chunk (for line numbers in errors). */
  baseLines: number;
  /** Messages before the chunk (seqs continue from it). */
  baseCount: number;
  /** Whether to return the messages (else only count them). */
  collect: boolean;
}

export interface ScanResult {
  /** Messages of complete appends (empty unless `collect`). */
  messages: Message[];
  /** How many messages the complete appends hold. */
  count: number;
  /** Lines up to the end of the last complete append (header and batch lines included). */
  lines: number;
  /** Idempotency key → seq of its append, for keys in the complete appends. */
  keys: Map<string, number>;
  /** Byte length of the complete appends: everything after it is a torn tail. */
  validBytes: number;
  /** Bytes after `validBytes`: a last line without its newline, or a batch cut short. */
  tornBytes: number;
}

function corrupt(file: string, line: number, what: string, cause?: unknown): SessionCorruptError {
  return new SessionCorruptError(
    `Corrupt session history ${file} at line ${line}: ${what}. Restore the file from a backup or remove the damaged line.`,
    { file, cause },
  );
}

export type Kind = 'header' | 'message' | 'batch' | undefined;

function isMessage(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Message).role === 'string' &&
    typeof (value as Message).id === 'string'
  );
}

/** What a parsed history line is: a message, the header, a batch line, or none of them. */
export function kindOf(value: unknown): Kind {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  if (isMessage(record)) return 'message';
  if ('schemaVersion' in record) return 'header';
  const { batch, key } = record as Partial<BatchLine>;
  if (Number.isSafeInteger(batch) && batch! >= 1 && (key === undefined || typeof key === 'string'))
    return 'batch';
  return undefined;
}

/**
 * Parses all complete lines with one `JSON.parse` (the newlines turned into the commas of an
 * array, in place), about as fast as parsing a JSON array of the same messages. Returns
 * `undefined` when the text is not valid JSON or does not give one value per line, so the
 * line-by-line parser can say where.
 */
function parseAll(framed: Buffer, newlines: readonly number[]): unknown[] | undefined {
  const count = newlines.length;
  if (count === 0) return [];
  const last = newlines[count - 1]!;
  framed[0] = 0x5b; // [
  for (const at of newlines) framed[at] = 0x2c; // ,
  framed[last] = 0x5d; // ]
  const text = framed.subarray(0, last + 1);
  let values: unknown;
  try {
    // ASCII (the usual case) decodes several times faster than UTF-8, to the same string.
    values = JSON.parse(text.toString(isAscii(text) ? 'ascii' : 'utf8'));
  } catch {
    values = undefined;
  } finally {
    for (const at of newlines) framed[at] = 0x0a;
  }
  return Array.isArray(values) && values.length === count ? values : undefined;
}

/**
 * Reads a chunk of `messages.jsonl` that starts at the file start or at the end of an append.
 * `framed[0]` is scratch space; the chunk is `framed[1..]`. A torn tail (a last line without its
 * `\n`, or the lines of an append cut short) is reported in `tornBytes`, never thrown; any other
 * damage throws `SessionCorruptError` naming the file and the line.
 */
export function scanHistory(framed: Buffer, options: ScanOptions): ScanResult {
  const { file, fromStart, baseLines, baseCount, collect } = options;
  const newlines: number[] = [];
  for (let at = framed.indexOf(10, 1); at !== -1; at = framed.indexOf(10, at + 1)) newlines.push(at);

  let values = parseAll(framed, newlines);
  if (!values) {
    values = [];
    let start = 1;
    for (const [i, at] of newlines.entries()) {
      try {
        values.push(JSON.parse(framed.toString('utf8', start, at)));
      } catch (cause) {
        throw corrupt(file, baseLines + i + 1, 'not valid JSON', cause);
      }
      start = at + 1;
    }
  }

  const keys = new Map<string, number>();
  let count = 0; // messages seen
  let validCount = 0; // messages in complete appends
  let validLines = 0;
  let pending = 0; // messages still expected in the current batch
  let batchKey: string | undefined;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    const line = baseLines + i + 1;
    const kind = isMessage(value) ? 'message' : kindOf(value);
    if (fromStart && i === 0) {
      if (kind !== 'header')
        throw corrupt(file, line, 'no header line ({"schemaVersion":1,...}) at the start');
      const version = (value as HeaderLine).schemaVersion;
      if (version !== HISTORY_SCHEMA_VERSION) {
        throw corrupt(
          file,
          line,
          `unknown schemaVersion ${JSON.stringify(version)} (this version reads ${HISTORY_SCHEMA_VERSION})`,
        );
      }
      validLines = 1;
    } else if (kind === 'message') {
      count++;
      // Messages are gathered at the front of `values` itself (count - 1 <= i).
      if (collect) values[count - 1] = value;
      if (pending > 0) pending--;
      if (pending === 0) {
        validCount = count;
        validLines = i + 1;
        if (batchKey !== undefined) keys.set(batchKey, baseCount + count);
        batchKey = undefined;
      }
    } else if (kind === 'batch') {
      if (pending > 0)
        throw corrupt(file, line, `a new append starts inside one missing ${pending} message(s)`);
      const batch = value as BatchLine;
      pending = batch.batch;
      batchKey = batch.key;
    } else if (kind === 'header') {
      throw corrupt(file, line, 'a header line in the middle of the history');
    } else {
      throw corrupt(file, line, 'not a message');
    }
  }

  // Lines of an append cut short are part of the torn tail, like a last line without its newline.
  values.length = collect ? validCount : 0;
  const messages = values as Message[];
  const validBytes = validLines === 0 ? 0 : newlines[validLines - 1]!;
  return {
    messages,
    count: validCount,
    lines: validLines,
    keys,
    validBytes,
    tornBytes: framed.length - 1 - validBytes,
  };
}
