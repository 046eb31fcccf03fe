import { OpenAIChatModel } from '@sessions/openai';
import { type FakeOpenAI, startFakeOpenAI } from '@sessions/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL, modelFromEnv } from './model-from-env.js';
import { OfflineModel } from './offline-model.js';

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(() => fake.close());

const user = (content: string) => ({ id: '1', role: 'user' as const, content, createdAt: '' });

describe('modelFromEnv', () => {
  it('is offline without OPENAI_API_KEY or OPENAI_BASE_URL', () => {
    const configured = modelFromEnv({ env: { OPENAI_MODEL: 'gpt-x', OPENAI_API_KEY: '  ' } });
    expect(configured.offline).toBe(true);
    expect(configured.model).toBeInstanceOf(OfflineModel);
    expect(configured.description).toMatch(/^OFFLINE \(no OPENAI_API_KEY or OPENAI_BASE_URL\)/);
  });

  it('is offline when asked, even with a key', () => {
    const configured = modelFromEnv({ env: { OPENAI_API_KEY: 'sk-test' }, offline: true });
    expect(configured.offline).toBe(true);
    expect(configured.description).toContain('--offline');
  });

  it('talks to the OpenAI-compatible endpoint the environment names', async () => {
    const configured = modelFromEnv({
      env: { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url, OPENAI_MODEL: 'model-from-env' },
    });
    expect(configured.offline).toBe(false);
    expect(configured.model).toBeInstanceOf(OpenAIChatModel);
    expect(configured.description).toBe(`model-from-env at ${fake.url}`);
    fake.reply('Hi from the fake model');
    expect((await configured.model.generate({ messages: [user('Hello')] })).content).toBe(
      'Hi from the fake model',
    );
    expect(fake.chatRequests().at(-1)?.body.model).toBe('model-from-env');
  });

  it('needs no key for a local server, and the model option beats OPENAI_MODEL', () => {
    const configured = modelFromEnv({
      env: { OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1', OPENAI_MODEL: 'ignored' },
      model: 'llama3.1',
    });
    expect(configured.offline).toBe(false);
    expect(configured.description).toBe('llama3.1 at http://127.0.0.1:11434/v1');
    expect(modelFromEnv({ env: { OPENAI_API_KEY: 'sk-test' } }).description).toBe(
      `${DEFAULT_MODEL} at https://api.openai.com/v1`,
    );
  });
});
