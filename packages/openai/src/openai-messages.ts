import { type ChatRequest, InvalidInputError, type Message, type ToolSpec } from '@sessions/core';
import type {
  ChatCompletionFunctionTool,
  ChatCompletionMessageParam,
} from 'openai/resources/chat/completions';

/**
 * OpenAI accepts `name` only as 1-64 characters from [A-Za-z0-9_-]: other characters become `_`,
 * longer names are cut, and a name with nothing usable left is omitted (`undefined`).
 */
export function toOpenAIName(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const cleaned = name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
  return /[A-Za-z0-9]/.test(cleaned) ? cleaned : undefined;
}

/** Core messages as chat completion messages. Throws `InvalidInputError` for a tool message without `toolCallId`. */
export function toOpenAIMessages(messages: readonly Message[]): ChatCompletionMessageParam[] {
  return messages.map((message): ChatCompletionMessageParam => {
    const name = toOpenAIName(message.name);
    const named = name !== undefined ? { name } : {};
    switch (message.role) {
      case 'system':
        return { role: 'system', content: message.content, ...named };
      case 'user':
        return { role: 'user', content: message.content, ...named };
      case 'assistant': {
        const toolCalls = message.toolCalls ?? [];
        if (toolCalls.length === 0) return { role: 'assistant', content: message.content, ...named };
        return {
          role: 'assistant',
          content: message.content === '' ? null : message.content,
          ...named,
          tool_calls: toolCalls.map((call) => ({
            id: call.id,
            type: 'function',
            function: { name: call.name, arguments: call.arguments },
          })),
        };
      }
      case 'tool':
        if (!message.toolCallId) {
          throw new InvalidInputError(
            `Tool message ${message.id} has no toolCallId: a tool result must name the call it answers`,
          );
        }
        return { role: 'tool', content: message.content, tool_call_id: message.toolCallId };
      default:
        throw new InvalidInputError(
          `Message ${message.id} has an unknown role ${JSON.stringify((message as Message).role)}: use system, user, assistant or tool`,
        );
    }
  });
}

/** Core tool specs as chat completion function tools. */
export function toOpenAITools(tools: readonly ToolSpec[]): ChatCompletionFunctionTool[] {
  return tools.map((tool) => ({
    type: 'function',
    function: {
      name: tool.name,
      ...(tool.description !== undefined ? { description: tool.description } : {}),
      parameters: tool.parameters,
    },
  }));
}

/** Where a request's `maxTokens` goes. */
export type MaxTokensParam = 'max_tokens' | 'max_completion_tokens';

/** The request fields shared by `generate` and `stream`. */
export function toChatParams(
  model: string,
  req: ChatRequest,
  maxTokensParam: MaxTokensParam,
): {
  model: string;
  messages: ChatCompletionMessageParam[];
  tools?: ChatCompletionFunctionTool[];
  temperature?: number;
  max_tokens?: number;
  max_completion_tokens?: number;
} {
  return {
    model,
    messages: toOpenAIMessages(req.messages),
    ...(req.tools && req.tools.length > 0 ? { tools: toOpenAITools(req.tools) } : {}),
    ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
    ...(req.maxTokens !== undefined ? { [maxTokensParam]: req.maxTokens } : {}),
  };
}
