import type { ToolSpec } from './chat-model.js';

export interface ToolContext {
  sessionId: string;
  userId: string;
  agentName: string;
  signal?: AbortSignal;
}

/** A function an agent may call. `execute` gets the parsed arguments; its result is sent back as JSON. */
export interface Tool<Args = Record<string, unknown>> extends ToolSpec {
  execute(args: Args, context: ToolContext): unknown | Promise<unknown>;
}
