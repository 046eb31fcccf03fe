import { InvalidInputError, NotFoundError, SessionsError, TimeoutError } from '@sessions/core';
import { FetchFailedError, PrivateAddressError, SourceTooLargeError } from './errors.js';
import { findPrivateAddress, type HostLookup } from './private-address.js';

export interface FetchUrlOptions {
  fetch: typeof globalThis.fetch;
  lookup: HostLookup;
  allowPrivateNetwork: boolean;
  maxBytes: number;
  timeoutMs: number;
  maxRedirects?: number;
  signal?: AbortSignal;
  /** Bytes received so far, and the expected total when the server said (else 0). */
  onBytes?: (done: number, total: number) => void;
}

export interface FetchedUrl {
  bytes: Uint8Array;
  contentType: string | undefined;
  /** The URL the content came from, after redirects. */
  url: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Whether `text` is an absolute http(s) URL (core's rule, shared with `@sessions/knowledge`). */
export { isHttpUrl } from '@sessions/core';

/**
 * Fetches `url` with a size and time limit. Unless `allowPrivateNetwork`, every host on the way
 * (the first and each redirect's) must resolve only to public addresses. Redirects are followed by
 * hand (at most `maxRedirects`, default 5) so each one is checked.
 */
export async function fetchUrl(input: string, options: FetchUrlOptions): Promise<FetchedUrl> {
  const { maxRedirects = 5 } = options;
  let url = parseHttpUrl(input, input);
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  try {
    for (let hop = 0; ; hop++) {
      if (!options.allowPrivateNetwork) await assertPublic(url, options.lookup);
      const response = await options.fetch(url.href, {
        redirect: 'manual',
        signal,
        headers: { accept: 'text/html, application/pdf, text/*, application/json, */*;q=0.5' },
      });
      const location = response.headers.get('location');
      if (REDIRECTS.has(response.status) && location) {
        await response.body?.cancel().catch(() => undefined);
        if (hop >= maxRedirects) throw new FetchFailedError(input, `more than ${maxRedirects} redirects`);
        url = parseHttpUrl(new URL(location, url).href, input);
        continue;
      }
      if (response.status === 404 || response.status === 410) {
        await response.body?.cancel().catch(() => undefined);
        throw new NotFoundError(`Could not fetch ${input}: HTTP ${response.status}`);
      }
      if (!response.ok) {
        await response.body?.cancel().catch(() => undefined);
        throw new FetchFailedError(input, `HTTP ${response.status}`, { status: response.status });
      }
      const bytes = await readLimited(response, input, options);
      return { bytes, contentType: response.headers.get('content-type') ?? undefined, url: url.href };
    }
  } catch (error) {
    if (SessionsError.is(error)) throw error;
    if (options.signal?.aborted) throw options.signal.reason;
    if (timeout.aborted) {
      throw new TimeoutError(`Fetching ${input} took longer than timeoutMs (${options.timeoutMs} ms)`, {
        cause: error,
      });
    }
    const reason = error instanceof Error ? (describeCause(error) ?? error.message) : String(error);
    throw new FetchFailedError(input, reason, { cause: error });
  }
}

function parseHttpUrl(text: string, original: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    throw new InvalidInputError(`Invalid URL ${JSON.stringify(original)}`, { cause: error });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidInputError(
      `Cannot fetch ${original}: only http and https URLs are supported (got ${url.href})`,
    );
  }
  return url;
}

async function assertPublic(url: URL, lookup: HostLookup): Promise<void> {
  let address: string | undefined;
  try {
    address = await findPrivateAddress(url.hostname, lookup);
  } catch (error) {
    if (SessionsError.is(error)) throw error;
    throw new FetchFailedError(url.href, `cannot resolve host ${url.hostname}`, { cause: error });
  }
  if (address !== undefined) throw new PrivateAddressError(url.href, address);
}

/** Reads the body, refusing it as soon as it (or its declared length) passes `maxBytes`. */
async function readLimited(response: Response, name: string, options: FetchUrlOptions): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? '');
  const total = Number.isFinite(declared) && declared > 0 ? declared : 0;
  if (total > options.maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw new SourceTooLargeError(name, options.maxBytes);
  }
  if (!response.body) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > options.maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new SourceTooLargeError(name, options.maxBytes);
    }
    parts.push(value);
    options.onBytes?.(size, total);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return bytes;
}

function describeCause(error: Error): string | undefined {
  const cause = error.cause;
  if (cause instanceof Error) return `${error.message} (${cause.message})`;
  return undefined;
}
