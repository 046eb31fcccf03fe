import { InvalidInputError } from '@sessions/core';
import { z } from 'zod';

/** `value` checked by `schema`; `InvalidInputError` naming each problem when it does not fit. */
function parseWith<Schema extends z.ZodType>(schema: Schema, value: unknown, what: string): z.output<Schema> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    return `${path}${issue.message}`;
  });
  throw new InvalidInputError(`Invalid ${what}: ${problems.join('; ')}`);
}

const OBJECT = { error: 'the body must be a JSON object' };
const nonEmpty = (name: string) =>
  z.string({ error: `${name} must be a string` }).regex(/\S/, `${name} must not be empty`);
const memoryType = z.enum(['short', 'long'], { error: 'type must be "short" or "long"' });
const metadata = z.record(z.string(), z.unknown(), { error: 'metadata must be an object' });
/** A whole number in [min, max] from a query string; each check says what was wrong. */
const wholeNumber = (name: string, min: number, max?: number) => {
  const schema = z.coerce
    .number({ error: `${name} must be a number` })
    .int(`${name} must be a whole number`)
    .min(min, `${name} must be at least ${min}`);
  return max === undefined ? schema : schema.max(max, `${name} must be at most ${max}`);
};
const limit = (max: number) => wholeNumber('limit', 1, max);

const agentSchema = z.object(
  {
    message: z.string({ error: 'message must be a string' }).optional(),
    query: z.string({ error: 'query must be a string' }).optional(),
    session_id: z.string({ error: 'session_id must be a string' }).nullish(),
    user_id: z
      .string({ error: 'user_id must be a string' })
      .min(1, 'user_id must not be empty')
      .max(256, 'user_id must be at most 256 characters')
      .nullish(),
  },
  OBJECT,
);

/** What `POST /agent` asks. */
export interface AgentRequest {
  message: string;
  sessionId: string | undefined;
  userId: string | undefined;
}

/** `POST /agent`: the reference docs' `message`, or the reference client's `query`. */
export function parseAgentRequest(value: unknown): AgentRequest {
  const body = parseWith(agentSchema, value, 'body');
  const message = body.message ?? body.query;
  if (message === undefined) {
    throw new InvalidInputError('Invalid body: send the text to answer as "message" (or "query")');
  }
  if (message.trim() === '') {
    throw new InvalidInputError(
      `Invalid body: ${body.message !== undefined ? 'message' : 'query'} must not be empty`,
    );
  }
  return { message, sessionId: body.session_id ?? undefined, userId: body.user_id ?? undefined };
}

const memoryScope = z.enum(['session', 'user'], { error: 'scope must be "session" or "user"' });

const memorySchema = z.object(
  {
    text: nonEmpty('text'),
    type: memoryType.optional(),
    metadata: metadata.optional(),
    scope: memoryScope.optional(),
  },
  OBJECT,
);

/** What `POST /sessions/{id}/memory` adds. */
export interface MemoryRequest {
  text: string;
  type?: 'short' | 'long' | undefined;
  metadata?: Record<string, unknown> | undefined;
  /** `'session'` (default): this session only; `'user'`: every session of the session's user. */
  scope?: 'session' | 'user' | undefined;
}

export function parseMemoryRequest(value: unknown): MemoryRequest {
  return parseWith(memorySchema, value, 'body');
}

const memoryQuerySchema = z.object({
  q: z.string().optional(),
  limit: limit(100).optional(),
  type: memoryType.optional(),
});

/** What `GET /sessions/{id}/memory` asks: a search with `q`, else the list. */
export interface MemoryQuery {
  q?: string | undefined;
  limit?: number | undefined;
  type?: 'short' | 'long' | undefined;
}

export function parseMemoryQuery(value: unknown): MemoryQuery {
  return parseWith(memoryQuerySchema, value, 'query');
}

const knowledgeSchema = z.strictObject(
  {
    text: nonEmpty('text'),
    title: z
      .string({ error: 'title must be a string' })
      .max(512, 'title must be at most 512 characters')
      .optional(),
    id: z.string({ error: 'id must be a string' }).min(1).max(256).optional(),
    metadata: metadata.optional(),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `only text, title, id and metadata are accepted, not ${issue.keys.join(', ')} (to add a file, upload it as multipart/form-data: the server never reads paths or URLs)`
        : OBJECT.error,
  },
);

/** What `POST /sessions/{id}/knowledge` adds from JSON: text only. */
export interface KnowledgeTextRequest {
  text: string;
  title?: string | undefined;
  id?: string | undefined;
  metadata?: Record<string, unknown> | undefined;
}

export function parseKnowledgeText(value: unknown): KnowledgeTextRequest {
  return parseWith(knowledgeSchema, value, 'body');
}

const knowledgeQuerySchema = z.object({ q: z.string().optional(), limit: limit(100).optional() });

/** What `GET /sessions/{id}/knowledge` asks: a search with `q`, else the list of documents. */
export interface KnowledgeQuery {
  q?: string | undefined;
  limit?: number | undefined;
}

export function parseKnowledgeQuery(value: unknown): KnowledgeQuery {
  return parseWith(knowledgeQuerySchema, value, 'query');
}

const messagesQuerySchema = z.object({
  offset: wholeNumber('offset', 0).optional(),
  limit: limit(1000).optional(),
});

/** What `GET /sessions/{id}/messages` asks. */
export interface MessagesQuery {
  offset?: number | undefined;
  limit?: number | undefined;
}

export function parseMessagesQuery(value: unknown): MessagesQuery {
  return parseWith(messagesQuerySchema, value, 'query');
}

const stateSchema = z.record(z.string(), z.unknown(), {
  error: 'the body must be a JSON object of state keys and values',
});

/** `PUT` / `PATCH /sessions/{id}/state`: a plain object merged into the user state. */
export function parseStatePatch(value: unknown): Record<string, unknown> {
  return parseWith(stateSchema, value, 'body');
}

const incrementSchema = z.object(
  {
    by: z.number({ error: 'by must be a number' }).finite().optional(),
    default: z.number({ error: 'default must be a number' }).finite().optional(),
  },
  OBJECT,
);

/** What `POST /sessions/{id}/state/{key}/increment` asks. */
export interface IncrementRequest {
  by?: number | undefined;
  default?: number | undefined;
}

export function parseIncrement(value: unknown): IncrementRequest {
  return parseWith(incrementSchema, value, 'body');
}
