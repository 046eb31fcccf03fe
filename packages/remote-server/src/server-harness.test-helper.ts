import { connect } from 'node:net';
import { type ChatModel, MemorySessionStore, type SessionStore } from '@sessions/core';
import { OpenAIChatModel } from '@sessions/openai';
import { type FakeOpenAI, startFakeOpenAI } from '@sessions/testing';
import { type AgentServer, type AgentServerOptions, createAgentServer } from './agent-server.js';
import type { ListeningServer } from './listen.js';
import type { ServerLogger } from './server-logger.js';

/** A real server on an ephemeral 127.0.0.1 port, with the fake OpenAI server behind it. */
export interface Harness {
  fake: FakeOpenAI;
  model: ChatModel;
  store: SessionStore;
  server: AgentServer;
  listening: ListeningServer;
  url: string;
  /** How many requests the app has answered so far (the listening server's and `server.fetch`'s). */
  appAnswered(): number;
  /** `fetch` against the server: JSON bodies are serialised, `token` becomes a bearer header. */
  request(path: string, init?: RequestOptions): Promise<Response>;
  /** `request`, with the answer's body parsed as JSON (`undefined` when empty). */
  call(path: string, init?: RequestOptions): Promise<Answer>;
  /** `POST /agent` with a JSON body, parsed answer. */
  agent(body: unknown, init?: RequestOptions): Promise<Answer>;
  close(): Promise<void>;
}

// biome-ignore lint/suspicious/noExplicitAny: test answers are inspected freely
export type AnyJson = any;

export interface Answer {
  status: number;
  body: AnyJson;
  headers: Headers;
}

/** The body of `response` parsed as JSON, `undefined` when empty. */
export async function jsonOf(response: Response): Promise<AnyJson> {
  const text = await response.text();
  return text === '' ? undefined : JSON.parse(text);
}

export interface RequestOptions extends Omit<RequestInit, 'body'> {
  json?: unknown;
  body?: RequestInit['body'];
  token?: string;
}

export type HarnessOptions = Partial<AgentServerOptions> & {
  /** Wraps the OpenAI model (to spy on its requests). */
  wrapModel?: (model: ChatModel) => ChatModel;
};

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const fake = await startFakeOpenAI();
  const openai = new OpenAIChatModel({
    apiKey: fake.apiKey,
    baseURL: fake.url,
    model: 'fake-model',
    maxRetries: 0,
  });
  const { wrapModel, ...serverOptions } = options;
  const model = serverOptions.model ?? (wrapModel ? wrapModel(openai) : openai);
  const store = serverOptions.store ?? new MemorySessionStore();
  const server = createAgentServer({
    agent: { name: 'Remote Assistant', instructions: 'You are a helpful remote assistant.' },
    logger: false,
    ...serverOptions,
    model,
    store,
  });
  // Counted before listen() takes the app's `fetch`: what the app answers, and not `listen()` itself.
  let appAnswered = 0;
  const appFetch = server.app.fetch;
  server.app.fetch = (...args) => {
    appAnswered += 1;
    return appFetch(...args);
  };
  const listening = await server.listen({ port: 0, host: '127.0.0.1' });
  const url = listening.url;
  const request = (path: string, init: RequestOptions = {}): Promise<Response> => {
    const { json, token, headers, ...rest } = init;
    const merged = new Headers(headers);
    if (json !== undefined) merged.set('content-type', 'application/json');
    if (token !== undefined) merged.set('authorization', `Bearer ${token}`);
    return fetch(`${url}${path}`, {
      ...rest,
      headers: merged,
      ...(json !== undefined && { body: JSON.stringify(json), method: rest.method ?? 'POST' }),
    });
  };
  return {
    fake,
    model,
    store,
    server,
    listening,
    url,
    appAnswered: () => appAnswered,
    request,
    call: async (path, init) => {
      const response = await request(path, init);
      return { status: response.status, body: await jsonOf(response), headers: response.headers };
    },
    agent: async (body, init = {}) => {
      const response = await request('/agent', { ...init, json: body });
      return { status: response.status, body: await jsonOf(response), headers: response.headers };
    },
    close: async () => {
      await listening.close();
      await fake.close();
    },
  };
}

/** One server-sent event. */
export interface SseEvent {
  event: string;
  data: AnyJson;
}

/** Reads a whole `text/event-stream` answer into events (each `data:` line is JSON). */
export async function readEvents(response: Response): Promise<SseEvent[]> {
  const text = await response.text();
  return parseEvents(text);
}

export function parseEvents(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      return { event, data: JSON.parse(data.join('\n')) };
    });
}

export interface LogLine {
  level: string;
  fields: Record<string, unknown>;
  message: string;
}

/** A logger that keeps every line it is given. */
export function captureLogger(): { logger: ServerLogger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, message: string): void =>
      void lines.push({ level, fields, message });
  return { logger: { info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

/**
 * Sends the start of a request (`text`: its head and part of its body) on a new connection, and
 * closes the connection once the server has the head: a client gone while sending its body.
 */
export function leaveMidBody(listening: ListeningServer, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(listening.port, '127.0.0.1', () => {
      listening.server.once('request', () => setImmediate(() => socket.destroy()));
      socket.write(text);
    });
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}
