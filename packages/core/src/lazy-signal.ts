import type { ChatRequest, ToolSpec } from './chat-model.js';
import type { Message } from './message.js';
import type { TurnContext } from './middleware.js';

/** A turn's signal, or a function that makes it when something first asks (see `ChatOptions.signal`). */
export type SignalSource = AbortSignal | (() => AbortSignal);

/**
 * A turn whose signal is made on first read of `turn.signal` (by a middleware, the model, a
 * tool), so a turn nobody asked about makes no `AbortSignal` (about 4 µs each in Node 20).
 * Middleware may set `turn.signal` as on any turn.
 */
export class LazySignalTurn implements TurnContext {
  sessionId: string;
  userId: string;
  agentName: string;
  message: string;
  streaming: boolean;
  metadata: Record<string, unknown>;
  #make: (() => AbortSignal) | undefined;
  #signal: AbortSignal | undefined;

  constructor(fields: Omit<TurnContext, 'signal'>, make: () => AbortSignal) {
    this.sessionId = fields.sessionId;
    this.userId = fields.userId;
    this.agentName = fields.agentName;
    this.message = fields.message;
    this.streaming = fields.streaming;
    this.metadata = fields.metadata;
    this.#make = make;
  }

  get signal(): AbortSignal | undefined {
    const make = this.#make;
    if (make !== undefined) {
      this.#make = undefined;
      this.#signal = make();
    }
    return this.#signal;
  }

  set signal(signal: AbortSignal | undefined) {
    this.#make = undefined;
    this.#signal = signal;
  }

  /** The signal when something made or set it; `undefined` when nobody asked yet (nothing to check). */
  signalIfMade(): AbortSignal | undefined {
    return this.#make === undefined ? this.#signal : undefined;
  }
}

/** A model request whose `signal` is its turn's, read (and so made) only when the model reads it. */
export class LazySignalRequest implements ChatRequest {
  messages: Message[];
  declare tools?: ToolSpec[];
  declare temperature?: number;
  declare maxTokens?: number;
  readonly #turn: TurnContext;

  constructor(messages: Message[], turn: TurnContext) {
    this.messages = messages;
    this.#turn = turn;
  }

  get signal(): AbortSignal | undefined {
    return this.#turn.signal;
  }
}

/** The signal of `source`, made now when it is a function. */
export function signalOf(source: SignalSource | undefined): AbortSignal | undefined {
  return typeof source === 'function' ? source() : source;
}
