/** Who wrote a message. */
export type Role = 'system' | 'user' | 'assistant' | 'tool';

/** A function call the model asked for; `arguments` is the JSON text the model produced. */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** One entry of a session's history. */
export interface Message {
  id: string;
  role: Role;
  content: string;
  /** The agent that wrote an assistant message (or the tool that answered a tool message). */
  name?: string;
  toolCalls?: ToolCall[];
  toolCallId?: string;
  /** ISO-8601 time. */
  createdAt: string;
  metadata?: Record<string, unknown>;
}

/** Token counts reported by a model. */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
}
