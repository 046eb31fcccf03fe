export type {
  ChatCompletionBody,
  ChatCompletionBodyMessage,
  EmbeddingsBody,
  FakeError,
  FakeOpenAI,
  FakeOpenAIOptions,
  FakeReply,
  FakeReplyObject,
  FakeResponder,
  FakeToolCall,
  RecordedRequest,
} from './fake-openai.js';
export { startFakeOpenAI } from './fake-openai.js';
export type { ConformanceApi } from './session-store-conformance.js';
export { sessionStoreConformance } from './session-store-conformance.js';
