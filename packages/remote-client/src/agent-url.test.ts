import { SessionsError } from '@sessions/core';
import { describe, expect, it } from 'vitest';
import { agentRoutes } from './agent-url.js';

describe('agentRoutes', () => {
  it('derives the other routes from the agent endpoint', () => {
    const routes = agentRoutes('http://127.0.0.1:8000/agent');
    expect(routes.agent).toBe('http://127.0.0.1:8000/agent');
    expect(routes.base).toBe('http://127.0.0.1:8000/');
    expect(routes.route('health')).toBe('http://127.0.0.1:8000/health');
    expect(routes.route('sessions', 'chat_123', 'messages')).toBe(
      'http://127.0.0.1:8000/sessions/chat_123/messages',
    );
  });

  it('means http:// when the scheme is missing', () => {
    expect(agentRoutes('localhost:8000/agent').agent).toBe('http://localhost:8000/agent');
    expect(agentRoutes('127.0.0.1:8000/agent').route('health')).toBe('http://127.0.0.1:8000/health');
  });

  it('keeps a base path and https', () => {
    const routes = agentRoutes('https://api.example.com/v1/agent/');
    expect(routes.agent).toBe('https://api.example.com/v1/agent');
    expect(routes.route('health')).toBe('https://api.example.com/v1/health');
  });

  it('means /agent when the URL has no path', () => {
    expect(agentRoutes('http://127.0.0.1:8000').agent).toBe('http://127.0.0.1:8000/agent');
    expect(agentRoutes('http://127.0.0.1:8000/').route('health')).toBe('http://127.0.0.1:8000/health');
  });

  it('drops query and fragment, and escapes segments', () => {
    const routes = agentRoutes('http://h/agent?x=1#y');
    expect(routes.agent).toBe('http://h/agent');
    expect(routes.route('sessions', 'a/b')).toBe('http://h/sessions/a%2Fb');
  });

  it.each([
    '',
    '   ',
    'http://',
    'ftp://example.com/agent',
    'http://exa mple.com/agent',
    'http://user:pw@example.com/agent',
  ])('rejects %j with InvalidInputError', (url) => {
    let caught: unknown;
    try {
      agentRoutes(url);
    } catch (error) {
      caught = error;
    }
    expect(SessionsError.is(caught) && caught.code).toBe('invalid_input');
    expect((caught as Error).message).toMatch(/agentUrl/);
  });
});
