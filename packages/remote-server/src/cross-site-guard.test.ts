import { request as httpRequest } from 'node:http';
import { MemorySessionStore } from '@sessions/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createAgentServer } from './agent-server.js';
import { captureLogger, type Harness, jsonOf, startHarness } from './server-harness.test-helper.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/** A raw HTTP request with any `Host` header (fetch sets its own). */
function rawPost(url: string, path: string, headers: Record<string, string>, body: string) {
  const { hostname, port } = new URL(url);
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const planted = JSON.stringify({ message: 'planted by a web page', session_id: 'victim' });

describe('a server without auth, against web pages of other sites', () => {
  it('refuses a write a page of another origin made (a text/plain POST needs no preflight), answers clients that are not browsers', async () => {
    harness = await startHarness();
    const asked = harness.fake.chatRequests().length;
    const forged = await harness.request('/agent', {
      method: 'POST',
      headers: { origin: 'http://attacker.example', 'content-type': 'text/plain' },
      body: planted,
    });
    expect(forged.status).toBe(403);
    expect((await jsonOf(forged)).error).toMatchObject({ code: 'forbidden' });
    const noOrigin = await harness.request('/agent', {
      method: 'POST',
      headers: { 'sec-fetch-site': 'cross-site', 'content-type': 'text/plain' },
      body: planted,
    });
    expect(noOrigin.status).toBe(403);
    const form = await harness.request('/sessions/victim/knowledge', {
      method: 'POST',
      headers: { origin: 'null' },
      body: new FormData(),
    });
    expect(form.status).toBe(403);
    expect(harness.fake.chatRequests()).toHaveLength(asked);
    expect((await harness.call('/sessions/victim')).status).toBe(404);

    // curl, SDKs, RemoteSession: no Origin, no Sec-Fetch-Site.
    expect((await harness.agent({ message: 'Hi', session_id: 'victim' })).status).toBe(200);
    // The server's own pages, and a same-origin fetch.
    const own = await harness.agent(
      { message: 'Hi again', session_id: 'victim' },
      { headers: { origin: harness.url, 'sec-fetch-site': 'same-origin' } },
    );
    expect(own.status).toBe(200);
  });

  it('lets the origins of its cors option write: a list, or what a function echoes back', async () => {
    harness = await startHarness({ cors: { origin: ['http://app.example'] } });
    const allowed = await harness.agent({ message: 'Hi' }, { headers: { origin: 'http://app.example' } });
    expect(allowed.status).toBe(200);
    const other = await harness.agent({ message: 'Hi' }, { headers: { origin: 'http://other.example' } });
    expect(other.status).toBe(403);
    await harness.close();
    // hono's documented pattern: a fallback origin for the others, which does not let them in.
    harness = await startHarness({
      cors: { origin: (origin) => (origin.endsWith('.app.example') ? origin : 'https://app.example') },
    });
    const sub = await harness.agent({ message: 'Hi' }, { headers: { origin: 'https://eu.app.example' } });
    expect(sub.status).toBe(200);
    const forged = await harness.request('/agent', {
      method: 'POST',
      headers: { origin: 'http://attacker.example', 'content-type': 'text/plain' },
      body: planted,
    });
    expect(forged.status).toBe(403);
  });

  it('served by another host (fetch): an Origin matching a name that is not loopback is not its own', async () => {
    const model = {
      generate: async () => ({ content: 'ok' }),
      async *stream() {
        yield { type: 'done' as const, response: { content: 'ok' } };
      },
    };
    const server = createAgentServer({
      agent: { name: 'A' },
      model,
      store: new MemorySessionStore(),
      logger: false,
    });
    // A page's own-origin POST, as the host hands it over: the origin and URL of the page's name.
    const fromPage = (origin: string): Promise<Response> =>
      server.fetch(
        new Request(`${origin}/agent`, {
          method: 'POST',
          headers: { origin, 'content-type': 'text/plain' },
          body: planted,
        }),
      );
    expect((await fromPage('http://attacker.example:8000')).status).toBe(403);
    expect((await fromPage('http://localhost:8000')).status).toBe(200);
  });

  it('answers only requests made to a loopback name, so DNS rebinding cannot reach it', async () => {
    const { logger, lines } = captureLogger();
    harness = await startHarness({ logger });
    const port = new URL(harness.url).port;
    const rebound = await rawPost(
      harness.url,
      '/agent',
      {
        host: `attacker.example:${port}`,
        origin: `http://attacker.example:${port}`,
        'content-type': 'text/plain',
      },
      planted,
    );
    expect(rebound.status).toBe(403);
    const refusal = JSON.parse(rebound.body).error;
    expect(refusal.message).toContain('loopback name');
    // Logged like every refusal, under the request id the answer carries.
    expect(lines.find((line) => line.fields.reqId === refusal.request_id)).toMatchObject({
      message: 'request refused',
      fields: { code: 'forbidden', status: 403, host: `attacker.example:${port}`, path: '/agent' },
    });
    expect((await harness.call('/sessions/victim')).status).toBe(404);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, 'LOCALHOST']) {
      const answer = await rawPost(
        harness.url,
        '/agent',
        { host, 'content-type': 'application/json' },
        planted,
      );
      expect(answer.status, host).toBe(200);
    }
  });

  it('with auth tokens: pages of any site and any host name reach auth, which decides', async () => {
    harness = await startHarness({ auth: { tokens: { 'token-a': 'alice' } } });
    const withToken = await harness.agent(
      { message: 'Hi' },
      { token: 'token-a', headers: { origin: 'http://tool.example' } },
    );
    expect(withToken.status).toBe(200);
    const port = new URL(harness.url).port;
    const named = await rawPost(
      harness.url,
      '/agent',
      { host: `agent.example:${port}`, authorization: 'Bearer token-a', 'content-type': 'application/json' },
      planted,
    );
    expect(named.status).toBe(200);
  });
});
