import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fakeEmbedding, fakeTokens, float32ToBase64 } from './fake-embedding.js';

export interface FakeOpenAIOptions {
  /** Port to listen on (127.0.0.1). Default 0: an ephemeral port. */
  port?: number;
  /** The bearer token the server accepts. Default `'test-key'`. */
  apiKey?: string;
  /** Embedding length when a request names no `dimensions`. Default 64. */
  dimensions?: number;
  /** Model named in answers when a request names none, and listed by `GET /v1/models`. Default `'fake-model'`. */
  model?: string;
}

/** One HTTP request the server received. `body` is the parsed JSON (the raw text if it was not JSON). */
export interface RecordedRequest<Body = unknown> {
  method: string;
  /** Path without the query, as sent: `/v1/chat/completions`. */
  path: string;
  /** Lowercase header names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  body: Body;
}

/** A message of a chat completion request, as the client sent it. */
export interface ChatCompletionBodyMessage {
  role: string;
  content?: string | null | Array<{ type: string; text?: string; [key: string]: unknown }>;
  name?: string;
  tool_calls?: Array<{ id: string; type: string; function: { name: string; arguments: string } }>;
  tool_call_id?: string;
  [key: string]: unknown;
}

/** The JSON body of `POST /v1/chat/completions`, as the client sent it. */
export interface ChatCompletionBody {
  model: string;
  messages: ChatCompletionBodyMessage[];
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  tools?: Array<{ type: string; function: { name: string; description?: string; parameters?: unknown } }>;
  [key: string]: unknown;
}

/** The JSON body of `POST /v1/embeddings`, as the client sent it. */
export interface EmbeddingsBody {
  model: string;
  input: string | string[] | number[] | number[][];
  dimensions?: number;
  encoding_format?: 'float' | 'base64';
  [key: string]: unknown;
}

export interface FakeToolCall {
  /** Default `call_<n>`. */
  id?: string;
  name: string;
  /** JSON text, or a value that is serialised with `JSON.stringify`. */
  arguments: string | object;
}

/** An OpenAI-shaped error answer: `{ error: { message, type, param, code } }` with this HTTP status. */
export interface FakeError {
  status: number;
  message?: string;
  type?: string;
  code?: string;
  /** Sends `retry-after-ms`, which the openai SDK obeys between retries (keeps retry tests fast). */
  retryAfterMs?: number;
}

export interface FakeReplyObject {
  content?: string;
  toolCalls?: FakeToolCall[];
  /** Default: word counts of the request's messages and of the answer. */
  usage?: { prompt_tokens: number; completion_tokens: number };
  /** Default `'tool_calls'` when there are tool calls, else `'stop'`. */
  finishReason?: 'stop' | 'length' | 'tool_calls' | 'content_filter';
  /** Wait this long before answering. Cut short when the client disconnects. */
  delayMs?: number;
  /** When streaming, wait this long before each chunk after the first piece of the answer. */
  chunkDelayMs?: number;
  /** How to split `content` when streaming. Default: word-ish pieces (`'Hello '`, `'world'`). */
  chunks?: string[];
  /** Answer this error instead of a completion. */
  error?: FakeError;
  /** Destroy the socket without answering (the client sees a connection error). */
  hangUp?: boolean;
  /** When streaming, destroy the socket after this many SSE chunks were written. */
  hangUpAfterChunks?: number;
}

/** A scripted answer: a string is the content. */
export type FakeReply = string | FakeReplyObject;

export type FakeResponder = (req: ChatCompletionBody) => FakeReply | Promise<FakeReply>;

/** A real HTTP server on 127.0.0.1 that speaks the OpenAI chat completions and embeddings API. */
export interface FakeOpenAI {
  /** Base URL including `/v1`, e.g. `http://127.0.0.1:54321/v1`: pass it as `baseURL`. */
  url: string;
  /** The key the server accepts (`Authorization: Bearer <apiKey>`); anything else gets a 401. */
  apiKey: string;
  /** Every request received, in order, recorded before it is answered. */
  requests: RecordedRequest[];
  /** Only the `/chat/completions` requests. */
  chatRequests(): RecordedRequest<ChatCompletionBody>[];
  /** Only the `/embeddings` requests. */
  embeddingRequests(): RecordedRequest<EmbeddingsBody>[];
  /** Queue scripted replies for the next chat requests (first in, first out). */
  reply(...replies: FakeReply[]): void;
  /** Answers chat requests while the queue is empty; `undefined` restores the default echo. */
  setResponder(fn: FakeResponder | undefined): void;
  /** The vector the server answers for `text` (default dimensions unless given). */
  embed(text: string, dimensions?: number): Float32Array;
  /** Clear the queue, the recorded requests and the responder. */
  reset(): void;
  /** Stop listening, cut open connections and pending delays. */
  close(): Promise<void>;
}

interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

const DEFAULT_MAX_DIMENSIONS = 8192;
const ARGUMENT_PIECE = 12;

function errorBody(message: string, type: string, code: string | null = null): OpenAIErrorBody {
  return { error: { message, type, param: null, code } };
}

function defaultErrorType(status: number): string {
  if (status === 401) return 'invalid_request_error';
  if (status === 429) return 'rate_limit_exceeded';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Resolves after `ms`, or at once when `signal` aborts; never leaves a timer behind. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms <= 0) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function textOf(content: ChatCompletionBodyMessage['content']): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => (typeof part.text === 'string' ? part.text : ''))
      .filter((text) => text !== '')
      .join('\n');
  }
  return '';
}

function countWords(text: string): number {
  return text.match(/\S+/g)?.length ?? 0;
}

/** Word-ish pieces whose concatenation is `text`: `'Hello big world'` → `['Hello ', 'big ', 'world']`. */
function splitWords(text: string): string[] {
  return text.match(/\s*\S+\s*|\s+/g) ?? [];
}

function splitEvery(text: string, size: number): string[] {
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
  return pieces.length > 0 ? pieces : [''];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The checks both POST routes make first: the body is a JSON object that names a model. Answers
 * OpenAI's 400 and returns `undefined` when it is not.
 */
function requireModelBody(
  body: unknown,
  res: ServerResponse,
): (Record<string, unknown> & { model: string }) | undefined {
  if (!isRecord(body)) {
    const message = 'The body of your request must be a JSON object.';
    sendJson(res, 400, errorBody(message, 'invalid_request_error'));
    return undefined;
  }
  if (typeof body.model !== 'string' || body.model === '') {
    sendJson(res, 400, errorBody('You must provide a model parameter.', 'invalid_request_error'));
    return undefined;
  }
  return body as Record<string, unknown> & { model: string };
}

/** Starts the fake OpenAI-compatible server on 127.0.0.1. Close it with `close()`. */
export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const apiKey = options.apiKey ?? 'test-key';
  const defaultModel = options.model ?? 'fake-model';
  const defaultDimensions = options.dimensions ?? 64;
  const requests: RecordedRequest[] = [];
  const queue: FakeReply[] = [];
  const inflight = new Set<AbortController>();
  let responder: FakeResponder | undefined;
  let counter = 0;
  const next = (): number => {
    counter += 1;
    return counter;
  };

  function defaultReply(body: ChatCompletionBody): FakeReply {
    const lastUser = [...body.messages].reverse().find((message) => message.role === 'user');
    return `echo: ${textOf(lastUser?.content)}`;
  }

  async function chooseReply(body: ChatCompletionBody): Promise<FakeReplyObject> {
    const queued = queue.shift();
    let reply: FakeReply;
    if (queued !== undefined) reply = queued;
    else if (responder) {
      try {
        reply = await responder(body);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return { error: { status: 500, message: `The fake responder threw: ${message}` } };
      }
    } else reply = defaultReply(body);
    return typeof reply === 'string' ? { content: reply } : reply;
  }

  async function handleChat(
    received: unknown,
    req: IncomingMessage,
    res: ServerResponse,
    signal: AbortSignal,
  ): Promise<void> {
    const body = requireModelBody(received, res);
    if (!body) return;
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      const message = "Missing required parameter: 'messages'.";
      sendJson(res, 400, errorBody(message, 'invalid_request_error', 'missing_required_parameter'));
      return;
    }
    const chat = body as ChatCompletionBody;
    const reply = await chooseReply(chat);
    await sleep(reply.delayMs ?? 0, signal);
    if (signal.aborted) return;
    if (reply.hangUp) {
      req.socket.destroy();
      return;
    }
    if (reply.error) {
      const { status, message, type, code, retryAfterMs } = reply.error;
      const headers: Record<string, string> = {};
      if (retryAfterMs !== undefined) headers['retry-after-ms'] = String(retryAfterMs);
      const answer = errorBody(
        message ?? `Fake error ${status}`,
        type ?? defaultErrorType(status),
        code ?? null,
      );
      sendJson(res, status, answer, headers);
      return;
    }

    const content = reply.content;
    const toolCalls = (reply.toolCalls ?? []).map((call) => ({
      id: call.id ?? `call_${next()}`,
      type: 'function' as const,
      function: {
        name: call.name,
        arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments),
      },
    }));
    const promptWords = chat.messages.reduce((sum, message) => sum + countWords(textOf(message.content)), 0);
    const answerWords =
      countWords(content ?? '') +
      toolCalls.reduce((sum, call) => sum + countWords(call.function.arguments), 0);
    const counts = reply.usage ?? { prompt_tokens: promptWords, completion_tokens: answerWords };
    const usage = { ...counts, total_tokens: counts.prompt_tokens + counts.completion_tokens };
    const finishReason = reply.finishReason ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop');
    const id = `chatcmpl-fake-${next()}`;
    const created = Math.floor(Date.now() / 1000);
    const model = chat.model;

    if (chat.stream !== true) {
      sendJson(res, 200, {
        id,
        object: 'chat.completion',
        created,
        model,
        system_fingerprint: null,
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: content ?? (toolCalls.length > 0 ? null : ''),
              refusal: null,
              ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
            },
            logprobs: null,
            finish_reason: finishReason,
          },
        ],
        usage,
      });
      return;
    }

    const includeUsage = chat.stream_options?.include_usage === true;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    let written = 0;
    const write = async (data: string): Promise<boolean> => {
      // The role chunk and the first piece go out at once; the delay separates the pieces after them.
      if (written > 1 && reply.chunkDelayMs) await sleep(reply.chunkDelayMs, signal);
      if (signal.aborted || res.destroyed) return false;
      if (reply.hangUpAfterChunks !== undefined && written >= reply.hangUpAfterChunks) {
        req.socket.destroy();
        return false;
      }
      await new Promise<void>((resolve) => res.write(`data: ${data}\n\n`, () => resolve()));
      written += 1;
      return true;
    };
    const chunkHead = { id, object: 'chat.completion.chunk', created, model, system_fingerprint: null };
    const chunk = (delta: Record<string, unknown>, finish: string | null = null): string =>
      JSON.stringify({
        ...chunkHead,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
        ...(includeUsage ? { usage: null } : {}),
      });

    const pieces: string[] = [chunk({ role: 'assistant', content: '', refusal: null })];
    for (const piece of reply.chunks ?? splitWords(content ?? '')) pieces.push(chunk({ content: piece }));
    toolCalls.forEach((call, index) => {
      pieces.push(
        chunk({
          tool_calls: [
            { index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } },
          ],
        }),
      );
      for (const piece of splitEvery(call.function.arguments, ARGUMENT_PIECE)) {
        pieces.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
      }
    });
    pieces.push(chunk({}, finishReason));
    if (includeUsage) {
      pieces.push(JSON.stringify({ ...chunkHead, choices: [], usage }));
    }
    pieces.push('[DONE]');
    for (const piece of pieces) {
      if (!(await write(piece))) return;
    }
    res.end();
  }

  function handleEmbeddings(received: unknown, res: ServerResponse): void {
    const body = requireModelBody(received, res);
    if (!body) return;
    const invalidInput = (): void =>
      sendJson(
        res,
        400,
        errorBody("'$.input' is invalid. Please check the API reference.", 'invalid_request_error'),
      );
    const input = body.input;
    let texts: string[];
    if (typeof input === 'string') texts = [input];
    else if (Array.isArray(input) && input.length > 0 && input.every((item) => typeof item === 'number')) {
      texts = [input.join(' ')];
    } else if (Array.isArray(input) && input.length > 0 && input.every((item) => typeof item === 'string')) {
      texts = input as string[];
    } else if (
      Array.isArray(input) &&
      input.length > 0 &&
      input.every(
        (item) => Array.isArray(item) && item.length > 0 && item.every((n) => typeof n === 'number'),
      )
    ) {
      texts = (input as number[][]).map((tokens) => tokens.join(' '));
    } else {
      invalidInput();
      return;
    }
    if (texts.some((text) => text === '')) {
      invalidInput();
      return;
    }
    const dimensions = body.dimensions ?? defaultDimensions;
    if (
      typeof dimensions !== 'number' ||
      !Number.isInteger(dimensions) ||
      dimensions < 1 ||
      dimensions > DEFAULT_MAX_DIMENSIONS
    ) {
      const message = `Invalid 'dimensions': expected an integer from 1 to ${DEFAULT_MAX_DIMENSIONS}.`;
      sendJson(res, 400, errorBody(message, 'invalid_request_error'));
      return;
    }
    const format = body.encoding_format ?? 'float';
    if (format !== 'float' && format !== 'base64') {
      const message = `Invalid 'encoding_format': expected 'float' or 'base64'.`;
      sendJson(res, 400, errorBody(message, 'invalid_request_error'));
      return;
    }
    const tokens = texts.reduce((sum, text) => sum + Math.max(1, fakeTokens(text).length), 0);
    sendJson(res, 200, {
      object: 'list',
      data: texts.map((text, index) => {
        const vector = fakeEmbedding(text, dimensions);
        return {
          object: 'embedding',
          index,
          embedding: format === 'base64' ? float32ToBase64(vector) : Array.from(vector),
        };
      }),
      model: body.model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const controller = new AbortController();
    inflight.add(controller);
    res.on('close', () => {
      controller.abort();
      inflight.delete(controller);
    });
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer);
    } catch {
      return; // the client went away while sending
    }
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    let parsed = true;
    try {
      body = raw === '' ? undefined : JSON.parse(raw);
    } catch {
      body = raw;
      parsed = false;
    }
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const method = req.method ?? 'GET';
    requests.push({ method, path, headers: headersOf(req), body });

    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      const given = req.headers.authorization?.replace(/^Bearer\s+/i, '') ?? '';
      const message = given
        ? `Incorrect API key provided: ${given.length > 8 ? `${given.slice(0, 3)}***${given.slice(-4)}` : '***'}.`
        : "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
      sendJson(res, 401, errorBody(message, 'invalid_request_error', given ? 'invalid_api_key' : null));
      return;
    }
    if (!parsed) {
      const message =
        'We could not parse the JSON body of your request. (HINT: This likely means you are not using your HTTP library correctly.)';
      sendJson(res, 400, errorBody(message, 'invalid_request_error'));
      return;
    }
    const route = path.startsWith('/v1/') ? path.slice(3) : path;
    if (method === 'POST' && route === '/chat/completions') {
      await handleChat(body, req, res, controller.signal);
    } else if (method === 'POST' && route === '/embeddings') {
      handleEmbeddings(body, res);
    } else if (method === 'GET' && route === '/models') {
      sendJson(res, 200, {
        object: 'list',
        data: [{ id: defaultModel, object: 'model', created: 0, owned_by: 'sessions-testing' }],
      });
    } else {
      sendJson(res, 404, errorBody(`Invalid URL (${method} ${path})`, 'invalid_request_error'));
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      if (!res.headersSent) sendJson(res, 500, errorBody(`Fake server failure: ${message}`, 'server_error'));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    apiKey,
    requests,
    chatRequests: () =>
      requests.filter((r) =>
        /^(\/v1)?\/chat\/completions$/.test(r.path),
      ) as RecordedRequest<ChatCompletionBody>[],
    embeddingRequests: () =>
      requests.filter((r) => /^(\/v1)?\/embeddings$/.test(r.path)) as RecordedRequest<EmbeddingsBody>[],
    reply: (...replies) => {
      queue.push(...replies);
    },
    setResponder: (fn) => {
      responder = fn;
    },
    embed: (text, dimensions = defaultDimensions) => fakeEmbedding(text, dimensions),
    reset: () => {
      queue.length = 0;
      requests.length = 0;
      responder = undefined;
    },
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        for (const controller of inflight) controller.abort();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
