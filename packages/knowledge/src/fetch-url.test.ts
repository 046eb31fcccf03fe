import { SessionsError } from '@sessions/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FetchFailedError, PrivateAddressError, SourceTooLargeError } from './errors.js';
import { fetchUrl, isHttpUrl } from './fetch-url.js';
import { startServer, type TestServer } from './fixtures.test-helper.js';
import { defaultLookup } from './private-address.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://x');
    if (url.pathname === '/hello.txt') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
    } else if (url.pathname === '/redirect') {
      response.writeHead(302, { location: '/hello.txt' }).end();
    } else if (url.pathname === '/loop') {
      response.writeHead(301, { location: '/loop' }).end();
    } else if (url.pathname === '/big') {
      response
        .writeHead(200, { 'content-type': 'text/plain', 'content-length': '5000' })
        .end('x'.repeat(5000));
    } else if (url.pathname === '/big-chunked') {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.write('x'.repeat(3000));
      response.end('x'.repeat(3000));
    } else if (url.pathname === '/slow') {
      response.writeHead(200, { 'content-type': 'text/plain' });
      response.write('partial');
      // never ends: the client's time limit must fire
    } else if (url.pathname === '/error') {
      response.writeHead(500).end('boom');
    } else {
      response.writeHead(404).end();
    }
  });
});
afterAll(() => server.close());

const base = { fetch: globalThis.fetch, lookup: defaultLookup, maxBytes: 4096, timeoutMs: 5000 };
const open = { ...base, allowPrivateNetwork: true };

describe('fetchUrl', () => {
  it('recognises http(s) URLs only', () => {
    expect(isHttpUrl('https://example.com/a.pdf')).toBe(true);
    expect(isHttpUrl(' http://127.0.0.1:8080 ')).toBe(true);
    expect(isHttpUrl('ftp://example.com')).toBe(false);
    expect(isHttpUrl('example.com')).toBe(false);
    expect(isHttpUrl('Important finding: AI improves efficiency by 40%')).toBe(false);
  });

  it('fetches a body with its content type and reports bytes', async () => {
    const seen: number[] = [];
    const result = await fetchUrl(`${server.url}/hello.txt`, { ...open, onBytes: (done) => seen.push(done) });
    expect(new TextDecoder().decode(result.bytes)).toBe('hello');
    expect(result.contentType).toBe('text/plain');
    expect(seen.at(-1)).toBe(5);
  });

  it('refuses loopback without allowPrivateNetwork, by IP and by name, before any request', async () => {
    const before = server.requests.length;
    const refused = fetchUrl(`${server.url}/hello.txt`, { ...base, allowPrivateNetwork: false });
    await expect(refused).rejects.toBeInstanceOf(PrivateAddressError);
    await expect(refused).rejects.toMatchObject({ code: 'forbidden', address: '127.0.0.1' });
    const port = new URL(server.url).port;
    await expect(
      fetchUrl(`http://localhost:${port}/hello.txt`, { ...base, allowPrivateNetwork: false }),
    ).rejects.toBeInstanceOf(PrivateAddressError);
    expect(server.requests.length).toBe(before);
  });

  it('checks the host of every redirect again', async () => {
    // The first host is "public" (by an injected lookup), the redirect goes to loopback.
    const before = server.requests.length;
    const port = new URL(server.url).port;
    const fetchVia = (async (input: string | URL | Request, init?: RequestInit) => {
      const url = new URL(String(input));
      if (url.hostname === 'public.test') {
        return new Response(null, {
          status: 302,
          headers: { location: `http://127.0.0.1:${port}/hello.txt` },
        });
      }
      return globalThis.fetch(input, init);
    }) as typeof fetch;
    const lookup = async (host: string): Promise<string[]> =>
      host === 'public.test' ? ['93.184.216.34'] : [];
    await expect(
      fetchUrl('http://public.test/start', { ...base, fetch: fetchVia, lookup, allowPrivateNetwork: false }),
    ).rejects.toBeInstanceOf(PrivateAddressError);
    expect(server.requests.length).toBe(before);
  });

  it('follows redirects, up to a limit', async () => {
    const result = await fetchUrl(`${server.url}/redirect`, open);
    expect(result.url).toBe(`${server.url}/hello.txt`);
    await expect(fetchUrl(`${server.url}/loop`, open)).rejects.toBeInstanceOf(FetchFailedError);
  });

  it('refuses bodies over maxBytes, declared or streamed', async () => {
    await expect(fetchUrl(`${server.url}/big`, open)).rejects.toBeInstanceOf(SourceTooLargeError);
    const streamed = fetchUrl(`${server.url}/big-chunked`, open);
    await expect(streamed).rejects.toBeInstanceOf(SourceTooLargeError);
    await expect(streamed).rejects.toMatchObject({ code: 'payload_too_large' });
  });

  it('gives up after timeoutMs with a TimeoutError', async () => {
    await expect(fetchUrl(`${server.url}/slow`, { ...open, timeoutMs: 300 })).rejects.toMatchObject({
      code: 'timeout',
    });
  });

  it('maps 404 to not_found and other failures to unavailable', async () => {
    await expect(fetchUrl(`${server.url}/missing`, open)).rejects.toMatchObject({ code: 'not_found' });
    await expect(fetchUrl(`${server.url}/error`, open)).rejects.toMatchObject({
      code: 'unavailable',
      status: 500,
    });
    const closed = await startServer(() => undefined);
    const url = closed.url;
    await closed.close();
    const error = await fetchUrl(`${url}/x`, open).catch((e: unknown) => e);
    expect(SessionsError.is(error) && error.code).toBe('unavailable');
  });

  it('refuses non-http schemes', async () => {
    await expect(fetchUrl('file:///etc/passwd', open)).rejects.toMatchObject({ code: 'invalid_input' });
  });
});
