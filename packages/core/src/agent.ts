import { overlayAgentConfig } from './agent-config.js';
import { Channel } from './channel.js';
import type { ChatModel, ChatRequest, ChatResponse } from './chat-model.js';
import { ConflictError, InvalidInputError, NotConfiguredError } from './errors.js';
import { newId } from './ids.js';
import { isoTime } from './iso-time.js';
import { LazySignalTurn, lazySignalRequest, type SignalSource, signalOf } from './lazy-signal.js';
import type { Message, ToolCall, Usage } from './message.js';
import { compose, type TurnContext, type TurnResult } from './middleware.js';
import { Session } from './session.js';
import type { AgentConfig } from './session-store.js';
import type { Tool } from './tool.js';

export interface AgentOptions {
  name: string;
  role?: string;
  instructions?: string;
  /** Functions the model may call. */
  // biome-ignore lint/suspicious/noExplicitAny: tools take arguments of their own types
  tools?: Tool<any>[];
  /** Put the most relevant memories of the session into the prompt. Needs the session's `memory`. */
  memory?: boolean;
  /** Put the most relevant knowledge passages into the prompt. Needs the session's `knowledge`. */
  knowledge?: boolean;
  /**
   * Store what is said as memories after each turn (needs the session's `memory`): `'turns'` (or
   * `true`) keeps the user's message and the reply in this session's scope; `'facts'` asks the model
   * (one more call) for lasting facts about the user and keeps each in the user's scope, visible
   * from all of the user's sessions. Default off.
   */
  remember?: boolean | 'turns' | 'facts';
  /** Called when remembering a turn fails (the turn itself is stored). Default `console.warn`. */
  onRememberError?: (error: unknown) => void;
  /** The session to work in; a new in-memory one (with `model`) when absent. */
  session?: Session;
  /** Overrides the session's model for this agent. */
  model?: ChatModel;
  /** Most model calls that may ask for tools in one turn. Default 8. */
  maxToolRounds?: number;
  /** Rough token budget for the memory and knowledge put into the prompt. Default 1,500. */
  contextTokens?: number;
  /** Most memories and most passages put into the prompt. Default 5. */
  contextItems?: number;
  /** Rough token budget for the history sent to the model (the newest turns are kept). Default 8,000. */
  historyTokens?: number;
  temperature?: number;
  maxTokens?: number;
}

export interface ChatOptions {
  /**
   * Cancels the turn: the model call, tools and middleware see it as `turn.signal`. Or a function
   * that makes the signal when something first reads `turn.signal`: a host that must be able to
   * cancel every turn (a server whose client may go away) while its model seldom looks saves
   * making an `AbortSignal` per turn (about 4 µs in Node 20, and more in garbage). When nothing
   * read it by the time the model answered, it is called with `ifAborted: true`: it returns the
   * signal if the turn was aborted meanwhile (the turn is then not stored), else `undefined`. A
   * function that ignores the argument and always returns the signal is right too, only not lazy.
   */
  signal?: SignalSource;
  /**
   * Names this turn (the store's idempotency key) so a retry of it is stored once. Without it the
   * turn is appended without a key: nothing could retry it under a name it never had.
   */
  turnId?: string;
  /**
   * The turn's `metadata` as middleware see it (`turn.metadata`): this very object, so a host can
   * hand middleware data and read back what they left. A new object when absent.
   */
  metadata?: Record<string, unknown>;
  /**
   * With a `turnId` the store already held (a retry stored first by another `Session`, another
   * process, or before a restart): called with the reply stored then, before `chat()` resolves
   * (with that reply's content, not this run's) or the stream ends (its deltas were this run's).
   */
  onReplay?: (reply: Message) => void;
}

export interface StreamChunk {
  delta: string;
}

/**
 * What `agent.stream()` answers: the deltas as the model writes them, and `text`, the final reply
 * as stored (after middleware such as `afterResponse` or `redact` changed it), once the stream
 * ended. Reading `text` starts the turn if nothing iterated yet; it rejects as the stream would.
 */
export interface AgentStream extends AsyncIterable<StreamChunk> {
  readonly text: Promise<string>;
}

/** An agent's configuration as a turn uses it: the session's (stored) one with its own options over it. */
interface Resolved {
  config: AgentConfig;
  /** The system prompt without memory and knowledge: who the agent is and its instructions. */
  basePrompt: string;
  memory: boolean;
  knowledge: boolean;
}

interface TurnRun {
  turn: TurnContext;
  produced: Message[];
  result: TurnResult;
}

/**
 * An agent working in a session: it answers with the session's shared history, its own
 * instructions and tools, and (when asked) the session's memory and knowledge.
 */
export class Agent {
  readonly name: string;
  readonly session: Session;
  // biome-ignore lint/suspicious/noExplicitAny: tools take arguments of their own types
  readonly tools: readonly Tool<any>[];
  readonly #options: AgentOptions;
  readonly #model: ChatModel | undefined;
  /** What the options gave of the persisted configuration (only what they set). */
  readonly #given: AgentConfig;
  /** The session's configuration `#resolved` was made from (the same object while it is unchanged). */
  #resolvedFrom: AgentConfig | undefined;
  #resolved: Resolved | undefined;

  constructor(options: AgentOptions) {
    if (typeof options?.name !== 'string' || options.name.trim() === '') {
      throw new InvalidInputError('An agent needs a name: Agent({ name: "Assistant" })');
    }
    for (const field of ['role', 'instructions'] as const) {
      if (options[field] !== undefined && typeof options[field] !== 'string') {
        throw new InvalidInputError(`Agent "${options.name}": ${field} must be a string`);
      }
    }
    this.name = options.name;
    this.session = options.session ?? new Session(options.model ? { model: options.model } : {});
    this.tools = [...(options.tools ?? [])];
    this.#options = options;
    this.#model = options.model ?? this.session.model;
    const names = new Set<string>();
    for (const tool of this.tools) {
      if (names.has(tool.name))
        throw new InvalidInputError(`Agent "${this.name}" has two tools named "${tool.name}"`);
      names.add(tool.name);
    }
    if (options.memory && !this.session.memory) {
      throw new NotConfiguredError(
        `Agent "${this.name}" asks for memory but its session has none: pass \`memory: new Memory()\` from @sessions/memory to new Session()`,
      );
    }
    if (options.remember && !this.session.memory) {
      throw new NotConfiguredError(
        `Agent "${this.name}" asks to remember turns but its session has no memory: pass \`memory: new Memory()\` from @sessions/memory to new Session()`,
      );
    }
    if (options.knowledge && !this.session.knowledge) {
      throw new NotConfiguredError(
        `Agent "${this.name}" asks for knowledge but its session has none: pass \`knowledge: new Knowledge()\` from @sessions/knowledge to new Session()`,
      );
    }
    const given: AgentConfig = { name: this.name };
    if (options.role !== undefined) given.role = options.role;
    if (options.instructions !== undefined) given.instructions = options.instructions;
    if (options.memory !== undefined) given.memory = options.memory === true;
    if (options.knowledge !== undefined) given.knowledge = options.knowledge === true;
    if (options.tools !== undefined) given.tools = this.tools.map((tool) => tool.name);
    this.#given = given;
    this.session.registerAgent(given);
  }

  /**
   * The role the agent works with: the one given, else the one stored for its name in the
   * session (known once the session is loaded).
   */
  get role(): string | undefined {
    return this.#resolve().config.role;
  }

  /** The instructions the agent works with: the ones given, else the ones stored for its name. */
  get instructions(): string | undefined {
    return this.#resolve().config.instructions;
  }

  /** What is persisted about this agent (tools by name only): the stored configuration with the options given over it. */
  get config(): AgentConfig {
    const config = this.#resolve().config;
    return config.tools === undefined ? { ...config } : { ...config, tools: [...config.tools] };
  }

  /**
   * The configuration a turn works with: made again only when the session's configuration of
   * this name changed (it is replaced, not changed, then), so a turn costs one map lookup here.
   */
  #resolve(): Resolved {
    const from = this.session.heldAgentConfig(this.name);
    const resolved = this.#resolved;
    if (resolved !== undefined && from === this.#resolvedFrom) return resolved;
    const config = overlayAgentConfig(from ?? this.#given, this.#given);
    const who = `You are ${this.name}${config.role ? `, ${config.role}` : ''}.`;
    const next: Resolved = {
      config,
      basePrompt: config.instructions ? `${who}\n\n${config.instructions}` : who,
      // A configuration stored with memory or knowledge uses them when this session has them.
      memory: config.memory === true && this.session.memory !== undefined,
      knowledge: config.knowledge === true && this.session.knowledge !== undefined,
    };
    this.#resolvedFrom = from;
    this.#resolved = next;
    return next;
  }

  /** Answers `message`. The user turn and the reply are stored before the promise resolves. */
  async chat(message: string, options: ChatOptions = {}): Promise<string> {
    const run = await this.#run(message, options, undefined);
    return run.result.content;
  }

  /** Alias of `chat`, as the remote client names it. */
  sendMessage(message: string, options: ChatOptions = {}): Promise<string> {
    return this.chat(message, options);
  }

  /**
   * Answers `message` as a stream of text deltas. The turn is stored when the stream ends; a
   * stream that is aborted or left early stores nothing and cancels the model call.
   */
  stream(message: string, options: ChatOptions = {}): AgentStream {
    const channel = new Channel<StreamChunk>();
    const controller = new AbortController();
    const outer = signalOf(options.signal);
    const onAbort = (): void => controller.abort(outer?.reason);
    if (outer?.aborted) onAbort();
    else outer?.addEventListener('abort', onAbort, { once: true });
    let text: Promise<string> | undefined;
    const start = (): Promise<string> => {
      if (text !== undefined) return text;
      const run = this.#run(message, { ...options, signal: controller.signal }, (delta) =>
        channel.push({ delta }),
      );
      run.then(
        () => channel.end(),
        (error: unknown) => channel.fail(error),
      );
      text = run.then(({ result }) => result.content);
      text.catch(() => undefined); // read by whoever asks for it; the stream throws the same error
      return text;
    };
    return {
      get text(): Promise<string> {
        return start();
      },
      [Symbol.asyncIterator]: (): AsyncIterator<StreamChunk> => {
        start();
        const inner = channel[Symbol.asyncIterator]();
        const finish = (): void => {
          outer?.removeEventListener('abort', onAbort);
        };
        return {
          next: async () => {
            try {
              const item = await inner.next();
              if (item.done) finish();
              return item;
            } catch (error) {
              finish();
              throw error;
            }
          },
          return: async () => {
            finish();
            controller.abort(new DOMException('The stream was closed early', 'AbortError'));
            return { done: true, value: undefined };
          },
        };
      },
    };
  }

  async #run(
    message: string,
    options: ChatOptions,
    onDelta: ((delta: string) => void) | undefined,
  ): Promise<TurnRun> {
    if (typeof message !== 'string') {
      throw new InvalidInputError('chat(message) takes a string');
    }
    const session = this.session;
    if (session.loadedHistory() === undefined) await session.history();
    const fields: TurnContext = {
      sessionId: session.sessionId,
      userId: session.userId,
      agentName: this.name,
      message,
      streaming: onDelta !== undefined,
      metadata: options.metadata ?? {},
    };
    const signal = options.signal;
    let turn: TurnContext = fields;
    if (typeof signal === 'function') turn = new LazySignalTurn(fields, signal);
    else if (signal !== undefined) turn.signal = signal;
    const turnId = options.turnId;
    if (turnId !== undefined) {
      // A retry of a turn the history already holds (stored by another `Session`, another
      // process, or before a restart): its stored reply is the answer; nothing runs again.
      const kept = session.storedTurn(turnId);
      if (kept !== undefined) return this.#replayed(turn, turnId, kept, message, false, options, onDelta);
    }
    let produced: Message[] = [];
    let sent = message;
    // The user message's id, the same in the model's request and in the history.
    const userMessageId = newId('msg');
    const handler = (current: TurnContext): Promise<TurnResult> => {
      sent = current.message;
      return this.#answer(current, userMessageId, onDelta).then((outcome) => {
        produced = outcome.produced;
        return outcome.result;
      });
    };
    const result = await compose(session.middleware, handler)(turn);
    if (typeof result?.content !== 'string') {
      throw new InvalidInputError('A middleware returned a turn result without string content');
    }
    (turn instanceof LazySignalTurn ? turn.signalToCheck() : turn.signal)?.throwIfAborted();
    const at = isoTime(session.now());
    const user: Message = { id: userMessageId, role: 'user', content: sent, createdAt: at };
    const reply: Message = {
      id: newId('msg'),
      role: 'assistant',
      content: result.content,
      name: this.name,
      createdAt: at,
    };
    // The reply names its turn, so a retry finds it in the history before it runs anything (and
    // says when middleware changed the message: a retry's message can then not be compared).
    if (turnId !== undefined) {
      const metadata: Record<string, unknown> = result.usage ? { usage: result.usage, turnId } : { turnId };
      if (sent !== message) metadata.turnRewritten = true;
      reply.metadata = metadata;
    } else if (result.usage) {
      reply.metadata = { usage: result.usage };
    }
    const appended = await session.appendTurn(
      produced.length === 0 ? [user, reply] : [user, ...produced, reply],
      turnId,
    );
    if (appended.earlier !== undefined && turnId !== undefined) {
      // The store kept an earlier run of this turn id (stored while this one ran): that run's reply
      // is the answer.
      const kept = session.storedTurn(turnId) ?? { reply: appended.earlier, message: undefined };
      return this.#replayed(turn, turnId, kept, message, sent !== message, options, undefined);
    }
    if (this.#options.remember) await this.#remember(sent, result.content, turn.signal);
    return { turn, produced, result };
  }

  /**
   * The run of a turn answered by the turn stored under its turn id: `onReplay`, and one delta when
   * streaming. `ConflictError` when the stored turn asked another `message` (the turn id was reused
   * for another message); not compared when middleware changed the message, in the stored run or in
   * this one (`rewritten`), as it need not do the same twice.
   */
  #replayed(
    turn: TurnContext,
    turnId: string,
    stored: { reply: Message; message: Message | undefined },
    message: string,
    rewritten: boolean,
    options: ChatOptions,
    onDelta: ((delta: string) => void) | undefined,
  ): TurnRun {
    const kept = stored.reply;
    const asked = stored.message?.content;
    const comparable = !rewritten && kept.metadata?.turnRewritten !== true && asked !== undefined;
    if (comparable && asked !== message) {
      throw new ConflictError(
        `Turn id ${JSON.stringify(turnId)} was used for another message: a new turn needs a new turn id (Idempotency-Key)`,
      );
    }
    options.onReplay?.(kept);
    if (onDelta && kept.content !== '') onDelta(kept.content);
    const usage = kept.metadata?.usage as Usage | undefined;
    return {
      turn,
      produced: [],
      result: usage ? { content: kept.content, usage } : { content: kept.content },
    };
  }

  async #answer(
    turn: TurnContext,
    userMessageId: string,
    onDelta: ((delta: string) => void) | undefined,
  ): Promise<{ result: TurnResult; produced: Message[] }> {
    const model = this.#model;
    if (!model) {
      throw new NotConfiguredError(
        `Agent "${this.name}" has no model: pass \`model: new OpenAIChatModel({ model: 'gpt-4o-mini' })\` from @sessions/openai to new Session()`,
      );
    }
    const history = this.session.loadedHistory() ?? (await this.session.history());
    const resolved = this.#resolve();
    const system =
      resolved.memory || resolved.knowledge
        ? await this.#systemPrompt(turn.message, resolved)
        : resolved.basePrompt;
    const user: Message = { id: userMessageId, role: 'user', content: turn.message, createdAt: '' };
    // The system prompt, the newest history within its budget, the user's message: one array.
    const start = this.session.windowStart(this.#options.historyTokens ?? 8_000);
    // One native copy of the window (`concat` copies an array's elements in bulk, several times
    // faster than a loop for the hundreds of short messages a long chat sends).
    const window = start === 0 ? history : history.slice(start);
    const prompt: Message[] = system ? [systemMessage(system)].concat(window, [user]) : window.concat([user]);
    const produced: Message[] = [];
    const maxRounds = this.#options.maxToolRounds ?? 8;
    let usage: Usage | undefined;
    let rounds = 0;
    while (true) {
      const offerTools = this.tools.length > 0 && rounds < maxRounds;
      const messages = produced.length === 0 ? prompt : [...prompt, ...produced];
      let request: ChatRequest;
      if (turn instanceof LazySignalTurn) {
        request = lazySignalRequest(messages, turn);
      } else {
        request = { messages };
        if (turn.signal !== undefined) request.signal = turn.signal;
      }
      if (offerTools) {
        request.tools = this.tools.map(({ name, description, parameters }) => ({
          name,
          description,
          parameters,
        }));
      }
      if (this.#options.temperature !== undefined) request.temperature = this.#options.temperature;
      if (this.#options.maxTokens !== undefined) request.maxTokens = this.#options.maxTokens;
      const response = onDelta ? await streamed(model, request, onDelta) : await model.generate(request);
      usage = addUsage(usage, response.usage);
      const calls = offerTools ? (response.toolCalls ?? []) : [];
      if (calls.length === 0) {
        const result: TurnResult = { content: response.content, toolRounds: rounds };
        if (usage) result.usage = usage;
        return { result, produced };
      }
      rounds += 1;
      const at = isoTime(this.session.now());
      produced.push({
        id: newId('msg'),
        role: 'assistant',
        content: response.content,
        name: this.name,
        toolCalls: calls,
        createdAt: at,
      });
      for (const call of calls) {
        produced.push({
          id: newId('msg'),
          role: 'tool',
          name: call.name,
          toolCallId: call.id,
          content: await this.#callTool(call, turn),
          createdAt: isoTime(this.session.now()),
        });
      }
    }
  }

  async #remember(message: string, reply: string, signal: AbortSignal | undefined): Promise<void> {
    const mode = this.#options.remember === 'facts' ? 'facts' : 'turns';
    try {
      if (mode === 'turns') {
        const metadata = { agentName: this.name, source: 'turn' };
        if (message.trim())
          await this.session.addMemory(message, { type: 'short', metadata: { ...metadata, role: 'user' } });
        if (reply.trim())
          await this.session.addMemory(reply, {
            type: 'short',
            metadata: { ...metadata, role: 'assistant' },
          });
        return;
      }
      const facts = await this.#extractFacts(message, reply, signal);
      for (const fact of facts) {
        await this.session.addMemory(fact, {
          type: 'long',
          scope: 'user',
          metadata: { agentName: this.name, source: 'facts' },
        });
      }
    } catch (error) {
      (
        this.#options.onRememberError ??
        ((e: unknown) => console.warn('[sessions] could not remember a turn:', e))
      )(error);
    }
  }

  async #extractFacts(message: string, reply: string, signal: AbortSignal | undefined): Promise<string[]> {
    const model = this.#model!;
    const response = await model.generate({
      messages: [
        { id: 'facts', role: 'system', content: FACTS_PROMPT, createdAt: '' },
        { id: 'turn', role: 'user', content: `User: ${message}\nAssistant: ${reply}`, createdAt: '' },
      ],
      ...(signal !== undefined && { signal }),
    });
    return response.content
      .split('\n')
      .map((line) => line.replace(/^\s*(?:[-*•]|\d+[.)])\s*/, '').trim())
      .filter((line) => line !== '' && line.toUpperCase() !== 'NONE');
  }

  async #callTool(call: ToolCall, turn: TurnContext): Promise<string> {
    const tool = this.tools.find((candidate) => candidate.name === call.name);
    if (!tool) return JSON.stringify({ error: `Unknown tool "${call.name}"` });
    let args: Record<string, unknown>;
    try {
      args = call.arguments.trim() === '' ? {} : JSON.parse(call.arguments);
    } catch {
      return JSON.stringify({ error: `Arguments of "${call.name}" are not valid JSON` });
    }
    try {
      const value = await tool.execute(args, {
        sessionId: turn.sessionId,
        userId: turn.userId,
        agentName: this.name,
        ...(turn.signal !== undefined && { signal: turn.signal }),
      });
      return typeof value === 'string' ? value : (JSON.stringify(value) ?? 'null');
    } catch (error) {
      turn.signal?.throwIfAborted();
      return JSON.stringify({ error: error instanceof Error ? error.message : String(error) });
    }
  }

  async #systemPrompt(query: string, resolved: Resolved): Promise<string> {
    const parts: string[] = [resolved.basePrompt];
    if (resolved.memory || resolved.knowledge) {
      const context = await this.session.buildContext(query, {
        memory: resolved.memory,
        knowledge: resolved.knowledge,
        recentMemories: resolved.memory,
        maxItems: this.#options.contextItems ?? 5,
        maxTokens: this.#options.contextTokens ?? 1_500,
      });
      if (context) parts.push(context);
    }
    return parts.join('\n\n');
  }
}

const FACTS_PROMPT =
  'Extract lasting facts about the user from this exchange (preferences, plans, people, places, ' +
  'what they own or do). Write one short, self-contained fact per line, in the third person. ' +
  'Write NONE when there is nothing worth remembering.';

function systemMessage(content: string): Message {
  return { id: 'system', role: 'system', content, createdAt: '' };
}

async function streamed(
  model: ChatModel,
  request: ChatRequest,
  onDelta: (delta: string) => void,
): Promise<ChatResponse> {
  let content = '';
  for await (const event of model.stream(request)) {
    if (event.type === 'delta') {
      content += event.delta;
      if (event.delta) onDelta(event.delta);
    } else {
      return { ...event.response, content: event.response.content || content };
    }
  }
  return { content };
}

function addUsage(total: Usage | undefined, more: Usage | undefined): Usage | undefined {
  if (!more) return total;
  if (!total) return { ...more };
  return {
    inputTokens: total.inputTokens + more.inputTokens,
    outputTokens: total.outputTokens + more.outputTokens,
    totalTokens: total.totalTokens + more.totalTokens,
  };
}
