import type { Message, ToolCall, Usage } from './message.js';

/** A function the model may call, described by a JSON Schema for its arguments. */
export interface ToolSpec {
  name: string;
  description?: string;
  parameters: Record<string, unknown>;
}

export interface ChatRequest {
  messages: Message[];
  tools?: ToolSpec[];
  signal?: AbortSignal;
  temperature?: number;
  maxTokens?: number;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'other';

export interface ChatResponse {
  content: string;
  toolCalls?: ToolCall[];
  usage?: Usage;
  finishReason?: FinishReason;
}

/** What `ChatModel.stream` yields: text deltas, then one `done` with the whole response. */
export type ChatEvent = { type: 'delta'; delta: string } | { type: 'done'; response: ChatResponse };

/** A chat model (OpenAI-compatible or any other). */
export interface ChatModel {
  generate(req: ChatRequest): Promise<ChatResponse>;
  stream(req: ChatRequest): AsyncIterable<ChatEvent>;
}

/** Turns texts into vectors of `dimensions` numbers. */
export interface Embedder {
  readonly dimensions: number;
  embed(texts: string[]): Promise<Float32Array[]>;
}
