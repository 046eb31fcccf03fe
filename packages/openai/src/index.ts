export type { OpenAIChatModelOptions } from './openai-chat-model.js';
export { OpenAIChatModel } from './openai-chat-model.js';
export type { OpenAIClientOptions } from './openai-client.js';
export type { OpenAIEmbedderOptions } from './openai-embedder.js';
export { OpenAIEmbedder } from './openai-embedder.js';
export type { MaxTokensParam } from './openai-messages.js';
