export type {
  DemoAgentOptions,
  DemoAssembly,
  DemoAssemblyOptions,
  OpenSessionOptions,
} from './demo-assembly.js';
export { createDemoAssembly, DEMO_AGENT_NAME, offlineNoise } from './demo-assembly.js';
export type { DemoServer, DemoServerOptions } from './demo-server.js';
export { startDemoServer } from './demo-server.js';
export { debugRequested, errorLine, reportError } from './error-line.js';
export { fileLogger } from './file-logger.js';
export { hideMemories } from './hide-memories.js';
export type { ConfiguredModel, ModelFromEnvOptions } from './model-from-env.js';
export { DEFAULT_MODEL, modelFromEnv } from './model-from-env.js';
export type { OfflineModelOptions } from './offline-model.js';
export { OFFLINE_PREFIX, OfflineModel } from './offline-model.js';
export { principalFolderName } from './principal-folder-name.js';
export type { RunServerOptions } from './run-server.js';
export { runServer } from './run-server.js';
export { serverBanner } from './server-banner.js';
export type { ServeFlags } from './server-options.js';
export { addServeOptions, parsePort, parseTokens, serverOptionsFrom } from './server-options.js';
export type { SessionResourcesOptions, SharedMemoryMode } from './session-resources.js';
export { PRINCIPAL_MEMORY_FOLDER, SessionResources } from './session-resources.js';
export type { OpenedSessionStore, SessionStoreFromUrlOptions } from './session-store-from-url.js';
export { sessionStoreFromUrl } from './session-store-from-url.js';
