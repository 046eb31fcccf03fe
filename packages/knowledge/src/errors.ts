import { SessionsError, type SessionsErrorOptions } from '@sessions/core';

/** A URL whose host resolves to a loopback, private, link-local or otherwise non-public address. */
export class PrivateAddressError extends SessionsError {
  readonly url: string;
  readonly address: string;

  constructor(url: string, address: string, options?: SessionsErrorOptions) {
    super(
      'forbidden',
      `Refused to fetch ${url}: its host resolves to the non-public address ${address}; pass allowPrivateNetwork: true to Knowledge() to allow it`,
      options,
    );
    this.url = url;
    this.address = address;
  }
}

/** A URL or file larger than `maxBytes`. */
export class SourceTooLargeError extends SessionsError {
  readonly source: string;
  readonly maxBytes: number;

  constructor(source: string, maxBytes: number, options?: SessionsErrorOptions) {
    super(
      'payload_too_large',
      `${source} is larger than maxBytes (${maxBytes} bytes); raise the maxBytes option of Knowledge() to load it`,
      options,
    );
    this.source = source;
    this.maxBytes = maxBytes;
  }
}

/** A URL that could not be fetched: DNS failure, connection error or an HTTP error status. */
export class FetchFailedError extends SessionsError {
  readonly url: string;
  readonly status: number | undefined;

  constructor(url: string, message: string, options?: SessionsErrorOptions & { status?: number }) {
    super('unavailable', `Could not fetch ${url}: ${message}`, options);
    this.url = url;
    this.status = options?.status;
  }
}
