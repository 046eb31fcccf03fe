// Placeholder: replaced by the SessionStore conformance suite.
export type ConformanceApi = {};
export function sessionStoreConformance(_make: unknown, _api?: ConformanceApi): void {}
