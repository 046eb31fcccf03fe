import { InvalidInputError } from '@sessions/core';

/** Where a remote agent's routes live, derived from its agent endpoint. */
export interface AgentRoutes {
  /** The agent endpoint (`POST`), e.g. `http://127.0.0.1:8000/agent`. */
  readonly agent: string;
  /** The base the other routes hang from, ending in `/`, e.g. `http://127.0.0.1:8000/`. */
  readonly base: string;
  /** An absolute URL for a route below the base: `route('health')`, `route('sessions', id, 'memory')`. */
  route(...segments: string[]): string;
}

/**
 * Parses an agent URL. A URL without a scheme means `http://`; a URL without a path (or `/`)
 * means its `/agent`. The other routes (`/health`, `/sessions/{id}`) hang from the agent
 * endpoint's parent path, so `http://host/api/agent` gives `http://host/api/health`.
 * Throws `InvalidInputError` for anything that is not an http(s) URL.
 */
export function agentRoutes(agentUrl: string): AgentRoutes {
  if (typeof agentUrl !== 'string' || agentUrl.trim() === '') {
    throw new InvalidInputError('RemoteSession needs an agentUrl such as "http://127.0.0.1:8000/agent"');
  }
  const text = agentUrl.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch (error) {
    throw new InvalidInputError(
      `Invalid agentUrl ${JSON.stringify(agentUrl)}: use a URL such as "http://127.0.0.1:8000/agent"`,
      { cause: error },
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidInputError(
      `Invalid agentUrl ${JSON.stringify(agentUrl)}: only http:// and https:// are supported`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new InvalidInputError(
      `Invalid agentUrl ${JSON.stringify(agentUrl)}: put credentials in headers (Authorization), not in the URL`,
    );
  }
  url.hash = '';
  url.search = '';
  let path = url.pathname.replace(/\/+$/, '');
  if (path === '') path = '/agent';
  url.pathname = path;
  const agent = url.href;
  url.pathname = path.slice(0, path.lastIndexOf('/') + 1);
  const base = url.href;
  return {
    agent,
    base,
    route: (...segments: string[]): string => base + segments.map(encodeURIComponent).join('/'),
  };
}
