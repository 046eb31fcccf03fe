export type { AgentRoutes } from './agent-url.js';
export { agentRoutes } from './agent-url.js';
export type { RemoteKnowledgeSource } from './knowledge-upload.js';
export type { RemoteErrorOptions, RemoteFailure } from './remote-error.js';
export { RemoteError } from './remote-error.js';
export type {
  RemoteAddKnowledgeOptions,
  RemoteAddMemoryOptions,
  RemoteCallOptions,
  RemoteChatOptions,
  RemoteListMemoriesOptions,
  RemoteSearchKnowledgeOptions,
  RemoteSearchMemoryOptions,
  RemoteSessionOptions,
} from './remote-session.js';
export { RemoteSession } from './remote-session.js';
