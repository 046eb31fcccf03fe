import type { FinishReason, ToolCall, Usage } from '@sessions/core';
import { newId } from '@sessions/core';

/** OpenAI's `usage` as core `Usage`. */
export function toUsage(
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens?: number } | null | undefined,
): Usage | undefined {
  if (!usage) return undefined;
  return {
    inputTokens: usage.prompt_tokens,
    outputTokens: usage.completion_tokens,
    totalTokens: usage.total_tokens ?? usage.prompt_tokens + usage.completion_tokens,
  };
}

/** OpenAI's `finish_reason` as core `FinishReason` (`function_call` counts as `tool_calls`). */
export function toFinishReason(reason: string | null | undefined): FinishReason | undefined {
  switch (reason) {
    case null:
    case undefined:
      return undefined;
    case 'stop':
    case 'length':
    case 'tool_calls':
    case 'content_filter':
      return reason;
    case 'function_call':
      return 'tool_calls';
    default:
      return 'other';
  }
}

/** One streamed piece of a tool call, as chat completion chunks carry it. */
export interface ToolCallDelta {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

/** Assembles tool calls from streamed deltas: the name is set, the arguments are appended. */
export class ToolCallAssembler {
  readonly #calls: ToolCall[] = [];
  #last = -1;

  add(delta: ToolCallDelta): void {
    let index = delta.index;
    if (index === undefined) {
      // Some servers omit `index`: a new id starts a new call, anything else continues the last one.
      const current = this.#calls[this.#last];
      index =
        delta.id !== undefined && current !== undefined && current.id !== delta.id
          ? this.#last + 1
          : this.#last;
      if (index < 0) index = 0;
    }
    let call = this.#calls[index];
    if (call === undefined) {
      call = { id: '', name: '', arguments: '' };
      this.#calls[index] = call;
    }
    this.#last = index;
    if (delta.id) call.id = delta.id;
    if (delta.function?.name) call.name = delta.function.name;
    if (delta.function?.arguments) call.arguments += delta.function.arguments;
  }

  /** The calls in order; a call the server sent without an id gets one. */
  calls(): ToolCall[] {
    return this.#calls
      .filter((call): call is ToolCall => call !== undefined)
      .map((call) => (call.id ? call : { ...call, id: newId('call') }));
  }
}
