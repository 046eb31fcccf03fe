export type { AgentOptions, AgentStream, ChatOptions, StreamChunk } from './agent.js';
export { Agent } from './agent.js';
export { Channel } from './channel.js';
export type {
  ChatEvent,
  ChatModel,
  ChatRequest,
  ChatResponse,
  Embedder,
  FinishReason,
  ToolSpec,
} from './chat-model.js';
export type { SessionsErrorCode, SessionsErrorOptions } from './errors.js';
export {
  BudgetExceededError,
  ConflictError,
  InvalidInputError,
  isRetryable,
  ModelError,
  NotConfiguredError,
  NotFoundError,
  RateLimitError,
  SessionCorruptError,
  SessionsError,
  storeDamage,
  TimeoutError,
} from './errors.js';
export { isHttpUrl } from './http-url.js';
export { assertSessionId, isValidSessionId, newId } from './ids.js';
export { isoTime } from './iso-time.js';
export { KeyedMutex } from './keyed-mutex.js';
export type {
  KnowledgeAddOptions,
  KnowledgeBase,
  KnowledgeDocument,
  KnowledgeHit,
  KnowledgeSearchOptions,
  KnowledgeSource,
} from './knowledge-base.js';
export type { SignalSource } from './lazy-signal.js';
export { MemorySessionStore } from './memory-session-store.js';
export type {
  MemoryHit,
  MemoryInput,
  MemoryRecord,
  MemorySearchOptions,
  MemoryStore,
  Scope,
} from './memory-store.js';
export type { Message, Role, ToolCall, Usage } from './message.js';
export type { Middleware, TurnContext, TurnResult } from './middleware.js';
export { compose } from './middleware.js';
export type {
  AddMemoryOptions,
  BuildContextOptions,
  MemoryType,
  SearchKnowledgeOptions,
  SearchMemoryOptions,
  SessionContext,
  SessionOptions,
} from './session.js';
export { Session } from './session.js';
export type {
  AgentConfig,
  AppendOptions,
  AppendResult,
  HistoryCursor,
  ListFilter,
  SessionState,
  SessionStore,
  SessionSummary,
  StoredSession,
  StoredTail,
} from './session-store.js';
export { assertSessionState, encodeSessionState, lastChange } from './state-json.js';
export { estimateTokens } from './tokens.js';
export type { Tool, ToolContext } from './tool.js';
