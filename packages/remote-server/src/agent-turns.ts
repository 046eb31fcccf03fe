import { createHash } from 'node:crypto';
import {
  type AgentOptions,
  InvalidInputError,
  type Middleware,
  newId,
  TimeoutError,
  type TurnResult,
  type Usage,
} from '@sessions/core';
import type { ClientWatch } from './server-env.js';
import type { SessionAccess } from './session-access.js';

/** The agent a server runs: an `Agent`'s options without its session and model. */
export type AgentSpec = Omit<AgentOptions, 'session' | 'model'>;

/** The answer of `POST /agent`, as JSON and as the `done` event of a stream. */
export interface AgentAnswer {
  content: string;
  /** The same text as `content`, for clients that read `response`. */
  response: string;
  session_id: string;
  metadata: { agent_name: string; timestamp: string; usage?: Usage };
}

export interface TurnInput {
  message: string;
  sessionId?: string | undefined;
  userId?: string | undefined;
}

export interface TurnRunOptions {
  /** Tells when the client goes away: the turn is then cancelled. */
  watch: ClientWatch;
  /** The request's `Idempotency-Key`: names the turn in the store, so a retry is stored once. */
  turnId?: string | undefined;
  /** Streams: called with each text delta as the model writes it. */
  onDelta?: ((delta: string) => void) | undefined;
}

/** The client went away before its turn was answered: the turn was cancelled and nothing was stored. */
export class ClientGoneError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('The client closed the connection before the answer; the turn was cancelled', options);
    this.name = 'ClientGoneError';
  }
}

/** The largest delay `setTimeout` honours. */
const MAX_DELAY = 2 ** 31 - 1;

/** The session id a keyed request without `session_id` gets: the same for every retry of it. */
export function keyedSessionId(principal: string, key: string): string {
  return `sess_${createHash('sha256').update(`${principal}\n${key}`).digest('hex').slice(0, 32)}`;
}

export interface AgentTurnsOptions {
  access: SessionAccess;
  agent: AgentSpec;
  /** Time allowed for one turn (every model call and tool of it), in ms. `0` or `Infinity`: none. */
  modelTimeoutMs: number;
  now: () => Date;
}

/** Runs one remote turn: opens the principal's session, runs the agent in it under a time limit. */
export class AgentTurns {
  readonly #options: AgentTurnsOptions;

  constructor(options: AgentTurnsOptions) {
    const ms = options.modelTimeoutMs;
    if (!(ms >= 0) || (Number.isFinite(ms) && ms > MAX_DELAY)) {
      throw new InvalidInputError(
        `modelTimeoutMs must be 0 (none) or a number up to ${MAX_DELAY}, got ${ms}`,
      );
    }
    this.#options = options;
  }

  get agentName(): string {
    return this.#options.agent.name;
  }

  async run(principal: string, input: TurnInput, options: TurnRunOptions): Promise<AgentAnswer> {
    const { access, agent: spec, modelTimeoutMs, now } = this.#options;
    const { watch, turnId, onDelta } = options;
    const sessionId =
      input.sessionId ?? (turnId !== undefined ? keyedSessionId(principal, turnId) : newId('sess'));
    let result: TurnResult | undefined;
    const capture: Middleware = async function capture(_turn, next) {
      result = await next();
      return result;
    };
    const session = await access.open(principal, sessionId, {
      ...(input.sessionId === undefined && turnId === undefined ? { fresh: true } : { create: true }),
      userId: input.userId,
      memory: spec.memory === true,
      knowledge: spec.knowledge === true,
      middleware: [capture],
    });
    const agent = session.Agent(spec);
    // One controller for the turn: the client going away or the deadline passing aborts it.
    const turn = new AbortController();
    let timedOut: TimeoutError | undefined;
    let gone = false;
    const stopWatching = watch((reason) => {
      gone = true;
      turn.abort(reason);
    });
    const timer =
      modelTimeoutMs > 0 && Number.isFinite(modelTimeoutMs)
        ? setTimeout(() => {
            timedOut = new TimeoutError(
              `The agent did not answer within ${modelTimeoutMs} ms (modelTimeoutMs)`,
            );
            turn.abort(timedOut);
          }, modelTimeoutMs)
        : undefined;
    const chat = { signal: turn.signal, ...(turnId !== undefined && { turnId }) };
    try {
      if (onDelta) {
        for await (const chunk of agent.stream(input.message, chat)) onDelta(chunk.delta);
      } else {
        await agent.chat(input.message, chat);
      }
    } catch (error) {
      if (timedOut) throw timedOut;
      if (gone) throw new ClientGoneError({ cause: error });
      throw error;
    } finally {
      clearTimeout(timer);
      stopWatching();
    }
    const final = result as TurnResult | undefined;
    const content = final?.content ?? '';
    return {
      content,
      response: content,
      session_id: sessionId,
      metadata: {
        agent_name: agent.name,
        timestamp: now().toISOString(),
        ...(final?.usage !== undefined && { usage: final.usage }),
      },
    };
  }
}
