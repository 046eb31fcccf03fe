export { FetchFailedError, PrivateAddressError, SourceTooLargeError } from './errors.js';
export type { HostLookup } from './private-address.js';
export { isPrivateAddress } from './private-address.js';
export type { IngestPhase, IngestProgress, ProgressListener } from './progress.js';
