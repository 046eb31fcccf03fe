import { InvalidInputError, type Message, type SessionContext } from '@sessions/core';

/** What `sessions state export` writes and `sessions state import` reads. */
export interface SessionExport {
  format: 'sessions-export';
  version: 1;
  exportedAt: string;
  sessionId: string;
  userId: string;
  createdAt: string;
  updatedAt: string;
  agents: string[];
  /** The user state. */
  state: Record<string, unknown>;
  /** The whole history, oldest first. */
  messages: Message[];
}

export function sessionExport(
  context: SessionContext,
  state: Record<string, unknown>,
  messages: Message[],
  now: Date = new Date(),
): SessionExport {
  return {
    format: 'sessions-export',
    version: 1,
    exportedAt: now.toISOString(),
    sessionId: context.sessionId,
    userId: context.userId,
    createdAt: context.createdAt,
    updatedAt: context.updatedAt,
    agents: context.agents,
    state,
    messages,
  };
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Reads an export; `InvalidInputError` naming `file` when it is not one. */
export function parseSessionExport(text: string, file: string): SessionExport {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidInputError(`${file} is not JSON: ${(error as Error).message}`);
  }
  if (!isObject(value) || value.format !== 'sessions-export') {
    throw new InvalidInputError(`${file} is not a session export (made by \`sessions state export\`)`);
  }
  if (value.version !== 1) {
    throw new InvalidInputError(
      `${file} has export version ${String(value.version)}: this CLI reads version 1`,
    );
  }
  if (!isObject(value.state)) throw new InvalidInputError(`${file}: "state" must be an object`);
  if (typeof value.userId !== 'string' || value.userId === '') {
    throw new InvalidInputError(`${file}: "userId" must be a non-empty string`);
  }
  if (!Array.isArray(value.messages)) throw new InvalidInputError(`${file}: "messages" must be an array`);
  for (const [index, message] of value.messages.entries()) {
    if (
      !isObject(message) ||
      typeof message.id !== 'string' ||
      typeof message.role !== 'string' ||
      typeof message.content !== 'string' ||
      typeof message.createdAt !== 'string'
    ) {
      throw new InvalidInputError(`${file}: message ${index + 1} needs id, role, content and createdAt`);
    }
  }
  return value as unknown as SessionExport;
}
