import type { ChatEvent, ChatModel, ChatRequest, ChatResponse } from './chat-model.js';

/** A scripted in-process model for core's unit tests (end-to-end tests use the fake OpenAI server). */
export class ScriptedModel implements ChatModel {
  readonly requests: ChatRequest[] = [];
  readonly #replies: ChatResponse[] = [];

  reply(...replies: (string | ChatResponse)[]): this {
    for (const reply of replies) this.#replies.push(typeof reply === 'string' ? { content: reply } : reply);
    return this;
  }

  async generate(request: ChatRequest): Promise<ChatResponse> {
    this.requests.push(request);
    request.signal?.throwIfAborted();
    const next = this.#replies.shift();
    if (next) return next;
    const last = request.messages.at(-1);
    return {
      content: `echo: ${last?.content ?? ''}`,
      usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 },
    };
  }

  async *stream(request: ChatRequest): AsyncIterable<ChatEvent> {
    const response = await this.generate(request);
    for (const piece of response.content.split(/(?<= )/)) {
      request.signal?.throwIfAborted();
      yield { type: 'delta', delta: piece };
      await new Promise((resolve) => setImmediate(resolve));
    }
    yield { type: 'done', response };
  }
}
