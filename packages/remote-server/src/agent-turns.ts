import {
  type Agent,
  type AgentOptions,
  type ChatOptions,
  InvalidInputError,
  isoTime,
  type Message,
  type Middleware,
  newId,
  type Session,
  TimeoutError,
  type TurnResult,
  type Usage,
} from '@sessions/core';
import { Deadlines } from './deadlines.js';
import type { ClientWatch } from './server-env.js';
import type { OpenOptions, SessionAccess } from './session-access.js';
import { sha256 } from './sha256.js';

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
  /**
   * Called when the answer is the reply the store holds for `turnId` (the turn was stored by
   * another server process, or by this one before a restart), before its delta when streaming.
   */
  onReplay?: (() => void) | undefined;
}

/** The client went away before its turn was answered: the turn was cancelled and nothing was stored. */
export class ClientGoneError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('The client closed the connection before the answer; the turn was cancelled', options);
    this.name = 'ClientGoneError';
  }
}

/** Where `captureTurnResult` leaves the turn's result in `turn.metadata`: a symbol, so no middleware lists it. */
const RESULT = Symbol('sessions.remote-server.turnResult');

/**
 * The outermost middleware of every session the server opens: notes the turn's result (content
 * and usage, after every other middleware) for the answer, in the `metadata` object the server
 * handed the turn.
 */
export const captureTurnResult: Middleware = function captureTurnResult(turn, next) {
  const slot = turn.metadata as Record<symbol, unknown>;
  return next().then((result) => {
    slot[RESULT] = result;
    return result;
  });
};

/** The largest delay `setTimeout` honours. */
const MAX_DELAY = 2 ** 31 - 1;

/** The session id a keyed request without `session_id` gets: the same for every retry of it. */
export function keyedSessionId(principal: string, key: string): string {
  return `sess_${sha256(`${principal}\n${key}`, 'hex').slice(0, 32)}`;
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
  readonly #deadlines: Deadlines | undefined;
  readonly #fresh: OpenOptions;
  readonly #create: OpenOptions;
  /** The agent of each session opened for turns (live sessions keep theirs). */
  readonly #agents = new WeakMap<Session, Agent>();

  constructor(options: AgentTurnsOptions) {
    const ms = options.modelTimeoutMs;
    if (!(ms >= 0) || (Number.isFinite(ms) && ms > MAX_DELAY)) {
      throw new InvalidInputError(
        `modelTimeoutMs must be 0 (none) or a number up to ${MAX_DELAY}, got ${ms}`,
      );
    }
    this.#options = options;
    this.#deadlines = ms > 0 && Number.isFinite(ms) ? new Deadlines(ms) : undefined;
    const { memory = false, knowledge = false } = options.agent;
    // The agent is made as the session is opened, so a new session's claim stores it too.
    const prepare = (session: Session): void => {
      this.#agentOf(session);
    };
    const ports = { memory: memory === true, knowledge: knowledge === true, live: true, prepare };
    this.#fresh = { fresh: true, ...ports };
    this.#create = { create: true, ...ports };
  }

  /** The agent of `session`, made on first use. */
  #agentOf(session: Session): Agent {
    let agent = this.#agents.get(session);
    if (agent === undefined) {
      agent = session.Agent(this.#options.agent);
      this.#agents.set(session, agent);
    }
    return agent;
  }

  get agentName(): string {
    return this.#options.agent.name;
  }

  async run(principal: string, input: TurnInput, options: TurnRunOptions): Promise<AgentAnswer> {
    const { access, modelTimeoutMs, now } = this.#options;
    const { watch, turnId, onDelta } = options;
    const sessionId =
      input.sessionId ?? (turnId !== undefined ? keyedSessionId(principal, turnId) : newId('sess'));
    const open = input.sessionId === undefined && turnId === undefined ? this.#fresh : this.#create;
    const session = await access.open(
      principal,
      sessionId,
      input.userId === undefined ? open : { ...open, userId: input.userId },
    );
    const agent = this.#agentOf(session);
    // One controller for the turn: the client going away or the deadline passing aborts it.
    const turn = new AbortController();
    let timedOut: TimeoutError | undefined;
    let gone = false;
    const stopWatching = watch((reason) => {
      gone = true;
      turn.abort(reason);
    });
    const stopTimer = this.#deadlines?.add({
      expire() {
        timedOut = new TimeoutError(`The agent did not answer within ${modelTimeoutMs} ms (modelTimeoutMs)`);
        turn.abort(timedOut);
      },
    });
    const metadata: Record<string | symbol, unknown> = {};
    // A retry whose turn another server (or this one before a restart) stored: answer what it stored.
    let replayed: Message | undefined;
    // The signal is made only when the model (or a middleware, a tool) reads it; once the model
    // answered, core asks again with `ifAborted`: only a turn aborted meanwhile makes one then.
    const signal = (ifAborted?: boolean): AbortSignal | undefined =>
      ifAborted === true && !gone && timedOut === undefined ? undefined : turn.signal;
    const chat: ChatOptions = { signal, metadata, turnId };
    if (turnId !== undefined) {
      chat.onReplay = (reply) => {
        replayed = reply;
        options.onReplay?.();
      };
    }
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
      stopTimer?.();
      stopWatching();
    }
    const final =
      replayed === undefined
        ? (metadata[RESULT] as TurnResult | undefined)
        : { content: replayed.content, usage: replayed.metadata?.usage as Usage | undefined };
    const content = final?.content ?? '';
    // A keyed answer carries its stored reply's time, so a replay of it (after a restart too) is the same.
    const stored = replayed ?? (turnId === undefined ? undefined : session.storedTurn(turnId)?.reply);
    const timestamp = stored?.createdAt ?? isoTime(now());
    const metadataOut: AgentAnswer['metadata'] = { agent_name: agent.name, timestamp };
    if (final?.usage !== undefined) metadataOut.usage = final.usage;
    return { content, response: content, session_id: sessionId, metadata: metadataOut };
  }
}
