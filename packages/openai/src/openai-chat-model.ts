import {
  type ChatEvent,
  type ChatModel,
  type ChatRequest,
  type ChatResponse,
  type FinishReason,
  InvalidInputError,
  ModelError,
  type Usage,
} from '@sessions/core';
import type OpenAI from 'openai';
import { createOpenAIClient, type OpenAIClientOptions } from './openai-client.js';
import { abortError, toSessionsError } from './openai-errors.js';
import { type MaxTokensParam, toChatParams } from './openai-messages.js';
import { ToolCallAssembler, toFinishReason, toUsage } from './openai-response.js';

export interface OpenAIChatModelOptions extends OpenAIClientOptions {
  /** The model name the server knows: `'gpt-4o-mini'`, `'llama3.1'`, a deployment name... */
  model: string;
  /**
   * Which request field carries `ChatRequest.maxTokens`. Default `'max_tokens'`, which OpenAI-compatible
   * servers understand; OpenAI's reasoning models need `'max_completion_tokens'`.
   */
  maxTokensParam?: MaxTokensParam;
}

/**
 * A core `ChatModel` on the official `openai` SDK: the chat completions API of OpenAI or of any
 * compatible server (Azure-style gateways, Ollama, vLLM, llama.cpp).
 */
export class OpenAIChatModel implements ChatModel {
  readonly model: string;
  readonly client: OpenAI;
  readonly #maxTokensParam: MaxTokensParam;

  constructor(options: OpenAIChatModelOptions) {
    if (typeof options?.model !== 'string' || options.model.trim() === '') {
      throw new InvalidInputError(
        'OpenAIChatModel needs a model name: new OpenAIChatModel({ model: "gpt-4o-mini" })',
      );
    }
    this.model = options.model;
    this.client = createOpenAIClient(options);
    this.#maxTokensParam = options.maxTokensParam ?? 'max_tokens';
  }

  /** One completion. Rejects with `ModelError`, `TimeoutError`, or an `AbortError` when `req.signal` aborts. */
  async generate(req: ChatRequest): Promise<ChatResponse> {
    const context = { what: 'chat completion', signal: req.signal, timeout: this.client.timeout };
    if (req.signal?.aborted) throw abortError(req.signal);
    const params = toChatParams(this.model, req, this.#maxTokensParam);
    let completion: OpenAI.ChatCompletion;
    try {
      completion = await this.client.chat.completions.create(
        { ...params, stream: false },
        req.signal ? { signal: req.signal } : undefined,
      );
    } catch (error) {
      throw toSessionsError(error, context);
    }
    const choice = completion.choices?.[0];
    if (!choice) {
      throw new ModelError('OpenAI chat completion returned no choices', { retryable: false });
    }
    const message = choice.message;
    const toolCalls = (message.tool_calls ?? []).flatMap((call) =>
      call.type === 'function'
        ? [{ id: call.id, name: call.function.name, arguments: call.function.arguments }]
        : [],
    );
    return response(
      message.content ?? message.refusal ?? '',
      toolCalls,
      toUsage(completion.usage),
      toFinishReason(choice.finish_reason),
    );
  }

  /**
   * Streams a completion: `delta` events as text arrives, then one `done` event with the whole
   * response (content, tool calls assembled from their deltas, usage). Asks the server for usage
   * with `stream_options.include_usage`. Breaking out of the loop cancels the request.
   */
  async *stream(req: ChatRequest): AsyncGenerator<ChatEvent, void, undefined> {
    const context = { what: 'chat completion stream', signal: req.signal, timeout: this.client.timeout };
    if (req.signal?.aborted) throw abortError(req.signal);
    const params = toChatParams(this.model, req, this.#maxTokensParam);
    let content = '';
    let usage: Usage | undefined;
    let finishReason: FinishReason | undefined;
    const toolCalls = new ToolCallAssembler();
    try {
      const chunks = await this.client.chat.completions.create(
        { ...params, stream: true, stream_options: { include_usage: true } },
        req.signal ? { signal: req.signal } : undefined,
      );
      for await (const chunk of chunks) {
        usage = toUsage(chunk.usage) ?? usage;
        const choice = chunk.choices?.[0];
        if (!choice) continue;
        for (const delta of choice.delta?.tool_calls ?? []) toolCalls.add(delta);
        finishReason = toFinishReason(choice.finish_reason) ?? finishReason;
        const text = choice.delta?.content;
        if (text) {
          content += text;
          yield { type: 'delta', delta: text };
        }
      }
    } catch (error) {
      throw toSessionsError(error, context);
    }
    // The SDK ends the iteration quietly when the signal aborts: say so.
    if (req.signal?.aborted) throw abortError(req.signal);
    yield { type: 'done', response: response(content, toolCalls.calls(), usage, finishReason) };
  }
}

function response(
  content: string,
  toolCalls: ChatResponse['toolCalls'] & object,
  usage: Usage | undefined,
  finishReason: FinishReason | undefined,
): ChatResponse {
  return {
    content,
    ...(toolCalls.length > 0 ? { toolCalls } : {}),
    ...(usage ? { usage } : {}),
    ...(finishReason ? { finishReason } : {}),
  };
}
