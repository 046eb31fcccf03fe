import { createHash } from 'node:crypto';
import {
  encodeSessionState,
  InvalidInputError,
  type Message,
  SessionCorruptError,
  type SessionState,
} from '@sessions/core';

const ROLES: ReadonlySet<string> = new Set(['system', 'user', 'assistant', 'tool']);

/** Why `value` is not a message, or `undefined` when it is one. */
function messageProblem(value: unknown): string | undefined {
  const m = value as Partial<Message> | null;
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return 'is not an object';
  if (typeof m.id !== 'string' || m.id === '') return 'has no string "id"';
  if (typeof m.role !== 'string' || !ROLES.has(m.role)) {
    return `has an unknown role ${JSON.stringify(m.role)} (use system, user, assistant or tool)`;
  }
  if (typeof m.content !== 'string') return 'has no string "content"';
  if (typeof m.createdAt !== 'string') return 'has no string "createdAt"';
  return undefined;
}

/**
 * Checks what `append` was given and returns each message as JSON. Throws `InvalidInputError`
 * for anything that is not an array of messages, or cannot be stored as JSON.
 */
export function encodeMessages(messages: unknown): string[] {
  if (!Array.isArray(messages)) throw new InvalidInputError('append expects an array of messages');
  return messages.map((message: unknown, i) => {
    const problem = messageProblem(message);
    if (problem) throw new InvalidInputError(`Message ${i} ${problem}`);
    try {
      return JSON.stringify(message);
    } catch (cause) {
      throw new InvalidInputError(`Message ${i} is not JSON-serialisable`, { cause });
    }
  });
}

export function checkIdempotencyKey(key: unknown): asserts key is string | undefined {
  if (key !== undefined && typeof key !== 'string') {
    throw new InvalidInputError('idempotencyKey must be a string');
  }
}

/** Checks what `saveState` was given and returns it as JSON. */
export const encodeState: (state: unknown) => string = encodeSessionState;

/** A stored message read back: returned as it is, or `SessionCorruptError` naming its key. */
export function storedMessage(value: unknown, key: string): Message {
  const problem = messageProblem(value);
  if (problem) {
    throw new SessionCorruptError(`Corrupt message at key "${key}": it ${problem}.`, { file: key });
  }
  return value as Message;
}

/** The `createdAt` of a stored message read back, or `undefined` when it is not a message (damaged). */
export function messageTime(value: unknown): string | undefined {
  return messageProblem(value) === undefined ? (value as Message).createdAt : undefined;
}

/** A stored state read back: returned as it is, or `SessionCorruptError` naming its key. */
export function storedState(value: unknown, key: string): SessionState {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SessionCorruptError(`Corrupt session state at key "${key}": not an object.`, { file: key });
  }
  const version = (value as { schemaVersion?: unknown }).schemaVersion;
  if (version !== 1) {
    throw new SessionCorruptError(
      `Corrupt session state at key "${key}": unknown schemaVersion ${JSON.stringify(version)} (this version reads 1).`,
      { file: key },
    );
  }
  return value as SessionState;
}

/** Parses JSON this store wrote; `SessionCorruptError` naming the key when it is not JSON. */
export function parseStored(text: string, key: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new SessionCorruptError(`Corrupt value at key "${key}": not valid JSON.`, { file: key, cause });
  }
}

/** A fixed-length, key-safe name for an idempotency key (any string): its SHA-256, base64url. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('base64url');
}

/** The message count as a fixed-width key part, so keys sort in message order. */
export function seqPart(seq: number): string {
  return String(seq).padStart(10, '0');
}
