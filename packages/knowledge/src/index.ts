export { FetchFailedError, PrivateAddressError, SourceTooLargeError } from './errors.js';
export type { KnowledgeAddOptionsWithProgress, KnowledgeOptions } from './knowledge.js';
export { Knowledge } from './knowledge.js';
export { SUPPORTED_EXTENSIONS } from './loaders/detect-type.js';
export type { HostLookup } from './private-address.js';
export { isPrivateAddress } from './private-address.js';
export type { IngestPhase, IngestProgress, ProgressListener } from './progress.js';
