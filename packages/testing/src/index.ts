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
export type { MemoryConformanceApi } from './memory-store-conformance.js';
export { memoryStoreConformance } from './memory-store-conformance.js';
export type { RedisServer, RedisServerOptions } from './redis-server.js';
export { startRedisServer } from './redis-server.js';
export { rejectionOf } from './rejection-of.js';
export { testMessage, testState } from './session-fixtures.js';
export type {
  ConformanceApi,
  SessionStoreConformanceOptions,
  TestContext,
} from './session-store-conformance.js';
export { sessionStoreConformance } from './session-store-conformance.js';
export type { TempDir, TempDirOptions } from './temp-dir.js';
export { useTempDir } from './temp-dir.js';
export type { OptionalStoreMethod, WithoutOptionalMethodsOptions } from './without-optional-methods.js';
export { withoutOptionalMethods } from './without-optional-methods.js';
