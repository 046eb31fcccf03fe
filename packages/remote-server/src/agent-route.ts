import { assertSessionId, InvalidInputError } from '@sessions/core';
import type { Hono } from 'hono';
import { type AgentAnswer, ClientGoneError } from './agent-turns.js';
import { errorAnswer } from './error-response.js';
import type { IdempotentResult } from './idempotency-cache.js';
import {
  answerJson,
  type ClientWatch,
  type RouteDeps,
  readJson,
  type ServerContext,
  type ServerEnv,
  watchClient,
} from './server-env.js';
import { sha256 } from './sha256.js';
import { sseEvent, wantsEventStream } from './sse.js';
import { type AgentRequest, parseAgentRequest } from './wire-schemas.js';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** The `Idempotency-Key` header, checked: 1-255 visible ASCII characters. */
export function idempotencyKeyOf(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new InvalidInputError('Invalid Idempotency-Key: use 1-255 visible ASCII characters (a UUID, say)');
  }
  return key;
}

/** Longest request kept as it is for the idempotency check; a longer one is kept as its SHA-256. */
const PLAIN_FINGERPRINT = 512;

/** What a keyed request asked, to tell a retry from another request under the same key. */
function fingerprint(request: AgentRequest): string {
  const asked = JSON.stringify([request.message, request.sessionId ?? null, request.userId ?? null]);
  // Most messages are short: compared as they are (a hash per request cost more than the turn's
  // store append); long ones are hashed, so the cache holds at most ~0.5 KB per key.
  return asked.length <= PLAIN_FINGERPRINT ? `=${asked}` : `#${sha256(asked, 'base64url')}`;
}

interface AnswerOptions {
  watch: ClientWatch;
  onDelta?: (delta: string) => void;
  onReplay?: () => void;
}

/** Runs the turn, once per principal and `Idempotency-Key` while its answer is kept. */
function answerOnce(
  deps: RouteDeps,
  principal: string,
  request: AgentRequest,
  key: string | undefined,
  options: AnswerOptions,
): Promise<IdempotentResult<AgentAnswer>> {
  // Built field by field: a spread of `options` made an object slow to read (seen in profiles).
  const run = (): Promise<AgentAnswer> =>
    deps.turns.run(principal, request, {
      watch: options.watch,
      onDelta: options.onDelta,
      onReplay: options.onReplay,
      turnId: key,
    });
  if (key === undefined) return run().then((value) => ({ value, replayed: false }));
  return deps.idempotency.run(`${principal}\n${key}`, fingerprint(request), run);
}

/** The turn a `POST /agent` body asks for, checked. */
export function agentRequestOf(body: unknown): AgentRequest {
  const request = parseAgentRequest(body);
  if (request.sessionId !== undefined) assertSessionId(request.sessionId);
  return request;
}

/** The header of an answer replayed for its `Idempotency-Key`. */
export const REPLAYED: Readonly<Record<string, string>> = { 'idempotent-replayed': 'true' };

/**
 * The answer of a JSON (not streamed) turn. `onReplayed` is called when it is a replay: from this
 * server's cache, or the reply the store holds for the key.
 */
export function jsonTurn(
  deps: RouteDeps,
  principal: string,
  request: AgentRequest,
  key: string | undefined,
  watch: ClientWatch,
  onReplayed: () => void,
): Promise<AgentAnswer> {
  if (key === undefined) return deps.turns.run(principal, request, { watch });
  return answerOnce(deps, principal, request, key, { watch, onReplay: onReplayed }).then(
    ({ value, replayed }) => {
      if (replayed) onReplayed();
      return value;
    },
  );
}

/** `POST /agent`: one turn, answered as JSON or (with `Accept: text/event-stream`) as a stream. */
export function agentRoute(app: Hono<ServerEnv>, deps: RouteDeps): void {
  app.post('/agent', async (c) => {
    const request = agentRequestOf(await readJson(c));
    const key = idempotencyKeyOf(c.req.header('idempotency-key'));
    const principal = c.get('principal');
    if (wantsEventStream(c.req.header('accept'))) return streamAnswer(c, deps, principal, request, key);
    let replayed = false;
    const answer = await jsonTurn(deps, principal, request, key, watchClient(c), () => {
      replayed = true;
    });
    return answerJson(c, answer, 200, replayed ? REPLAYED : undefined);
  });
}

/**
 * Streams one turn as server-sent events: `delta` events as the model writes, then `done` with the
 * whole answer (as the JSON answer would be). A failure before the first delta is an ordinary JSON
 * error with its status; after it, an `error` event. A client that goes away cancels the turn.
 */
async function streamAnswer(
  c: ServerContext,
  deps: RouteDeps,
  principal: string,
  request: AgentRequest,
  key: string | undefined,
): Promise<Response> {
  const requestId = c.get('requestId');
  const end = deps.tracker.begin();
  // The client goes away when the connection closes, or when the response stream is cancelled.
  const cancelListeners = new Set<(reason: unknown) => void>();
  const connection = watchClient(c);
  const watch: ClientWatch = (onGone) => {
    const stop = connection(onGone);
    cancelListeners.add(onGone);
    return () => {
      stop();
      cancelListeners.delete(onGone);
    };
  };
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let open = true;
  const body = new ReadableStream<Uint8Array>({
    start(streamController) {
      controller = streamController;
    },
    cancel(reason) {
      open = false;
      for (const onGone of [...cancelListeners]) onGone(reason);
    },
  });
  const send = (event: string, data: unknown): void => {
    if (!open) return;
    try {
      controller.enqueue(sseEvent(event, data));
    } catch {
      open = false;
    }
  };
  const close = (): void => {
    if (!open) return;
    open = false;
    try {
      controller.close();
    } catch {
      // already closed by the client
    }
  };
  let started = false;
  // The answer is the reply the store holds for the key (known before its one delta).
  let stored = false;
  let markStarted!: () => void;
  const firstDelta = new Promise<void>((resolve) => {
    markStarted = resolve;
  });
  const outcome = answerOnce(deps, principal, request, key, {
    watch,
    onReplay: () => {
      stored = true;
    },
    onDelta: (delta) => {
      started = true;
      send('delta', { delta });
      markStarted();
    },
  });
  outcome
    .then(
      ({ value, replayed }) => {
        if (replayed && value.content !== '') send('delta', { delta: value.content });
        send('done', value);
        close();
      },
      (error: unknown) => {
        if (!started) return; // answered as a JSON error below
        if (error instanceof ClientGoneError) {
          deps.log.info({ reqId: requestId }, 'stream cancelled: the client went away');
        } else {
          const answer = errorAnswer(error, requestId);
          const fields = { reqId: requestId, code: answer.body.error.code, err: error };
          if (answer.serverFault) deps.log.error(fields, 'stream failed');
          else deps.log.warn(fields, 'stream failed');
          send('error', answer.body);
        }
        close();
      },
    )
    .finally(end);
  await Promise.race([firstDelta, outcome.then(ignore, ignore)]);
  if (!started) {
    const { replayed } = await outcome;
    if (replayed) stored = true;
  }
  if (stored) c.header('idempotent-replayed', 'true');
  return c.body(body, 200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
}

function ignore(): void {}
