import { InvalidInputError, ModelError } from '@sessions/core';
import { type FakeOpenAI, startFakeOpenAI } from '@sessions/testing';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIEmbedder } from './openai-embedder.js';

let fake: FakeOpenAI;

beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterEach(() => fake.reset());
afterAll(() => fake.close());

const connection = (): { apiKey: string; baseURL: string; maxRetries: number } => ({
  apiKey: fake.apiKey,
  baseURL: fake.url,
  maxRetries: 0,
});

/** A client whose requests are rewritten before they leave, to play a server that ignores options. */
function rewritingClient(rewrite: (body: Record<string, unknown>) => Record<string, unknown>): OpenAI {
  return new OpenAI({
    ...connection(),
    fetch: async (url, init) => {
      const body = rewrite(JSON.parse(String(init?.body)) as Record<string, unknown>);
      return fetch(url, { ...init, body: JSON.stringify(body) });
    },
  });
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += (a[i] ?? 0) * (b[i] ?? 0);
    na += (a[i] ?? 0) ** 2;
    nb += (b[i] ?? 0) ** 2;
  }
  return dot / Math.sqrt(na * nb);
}

describe('OpenAIEmbedder', () => {
  it('returns one Float32Array per text, in order, asking for base64', async () => {
    const embedder = new OpenAIEmbedder({ ...connection(), model: 'embed-test' });
    const texts = ['red apple pie', 'green apple tart', 'stock market crash'];
    const vectors = await embedder.embed(texts);
    expect(vectors).toHaveLength(3);
    vectors.forEach((vector, i) => {
      expect(vector).toBeInstanceOf(Float32Array);
      expect(Array.from(vector)).toEqual(Array.from(fake.embed(texts[i]!)));
    });
    expect(cosine(vectors[0]!, vectors[1]!)).toBeGreaterThan(cosine(vectors[0]!, vectors[2]!));
    const body = fake.embeddingRequests()[0]?.body;
    expect(body).toEqual({ model: 'embed-test', input: texts, encoding_format: 'base64' });
  });

  it('learns its dimensions on the first call when not given', async () => {
    const embedder = new OpenAIEmbedder({ ...connection(), model: 'local-embed' });
    expect(embedder.dimensions).toBe(0);
    await embedder.embed(['hello']);
    expect(embedder.dimensions).toBe(64);
  });

  it('starts from the known length of an OpenAI model and takes the real one on the first call', async () => {
    const embedder = new OpenAIEmbedder({ ...connection(), model: 'text-embedding-3-small' });
    expect(embedder.dimensions).toBe(1536);
    await embedder.embed(['hello']);
    expect(embedder.dimensions).toBe(64);
  });

  it('asks for the given dimensions', async () => {
    const embedder = new OpenAIEmbedder({ ...connection(), model: 'text-embedding-3-large', dimensions: 24 });
    expect(embedder.dimensions).toBe(24);
    const [vector] = await embedder.embed(['some text']);
    expect(vector).toHaveLength(24);
    expect(fake.embeddingRequests()[0]?.body.dimensions).toBe(24);
  });

  it('fails clearly when the server ignores the dimensions option', async () => {
    const client = rewritingClient(({ dimensions: _ignored, ...body }) => body);
    const embedder = new OpenAIEmbedder({ model: 'ollama-like', dimensions: 24, client });
    const error = await embedder.embed(['x']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelError);
    expect((error as ModelError).message).toContain('64 dimensions, expected 24');
  });

  it('reads float arrays from servers that ignore encoding_format', async () => {
    const client = rewritingClient((body) => ({ ...body, encoding_format: 'float' }));
    const embedder = new OpenAIEmbedder({ model: 'float-server', client });
    const [vector] = await embedder.embed(['plain floats']);
    expect(vector).toBeInstanceOf(Float32Array);
    expect(Array.from(vector!)).toEqual(Array.from(fake.embed('plain floats')));
  });

  it('splits large inputs into batches and keeps the order', async () => {
    const embedder = new OpenAIEmbedder({ ...connection(), model: 'e', batchSize: 2 });
    const texts = ['one', 'two', 'three', 'four', 'five'];
    const vectors = await embedder.embed(texts);
    expect(fake.embeddingRequests().map((r) => r.body.input)).toEqual([
      ['one', 'two'],
      ['three', 'four'],
      ['five'],
    ]);
    expect(vectors.map((v) => Array.from(v))).toEqual(texts.map((t) => Array.from(fake.embed(t))));
  });

  it('sends nothing for no texts', async () => {
    const embedder = new OpenAIEmbedder({ ...connection(), model: 'e' });
    expect(await embedder.embed([])).toEqual([]);
    expect(fake.requests).toHaveLength(0);
  });

  it('maps server refusals to ModelError', async () => {
    const wrongKey = new OpenAIEmbedder({ ...connection(), apiKey: 'wrong', model: 'e' });
    const refused = (await wrongKey.embed(['x']).catch((e: unknown) => e)) as ModelError;
    expect(refused).toBeInstanceOf(ModelError);
    expect(refused.status).toBe(401);
    expect(refused.retryable).toBe(false);

    const embedder = new OpenAIEmbedder({ ...connection(), model: 'e' });
    const empty = (await embedder.embed(['fine', '']).catch((e: unknown) => e)) as ModelError;
    expect(empty.status).toBe(400);
  });

  it('maps an unreachable server to a retryable ModelError', async () => {
    const closed = await startFakeOpenAI();
    await closed.close();
    const embedder = new OpenAIEmbedder({ apiKey: 'k', baseURL: closed.url, model: 'e', maxRetries: 0 });
    const error = (await embedder.embed(['x']).catch((e: unknown) => e)) as ModelError;
    expect(error).toBeInstanceOf(ModelError);
    expect(error.retryable).toBe(true);
    expect(error.status).toBeUndefined();
  });

  it('rejects bad options and input', async () => {
    expect(() => new OpenAIEmbedder({ apiKey: 'k', model: '' })).toThrow(InvalidInputError);
    expect(() => new OpenAIEmbedder({ apiKey: 'k', model: 'e', dimensions: 0 })).toThrow(InvalidInputError);
    expect(() => new OpenAIEmbedder({ apiKey: 'k', model: 'e', batchSize: 1.5 })).toThrow(InvalidInputError);
    const embedder = new OpenAIEmbedder({ ...connection(), model: 'e' });
    await expect(embedder.embed('text' as unknown as string[])).rejects.toThrow(InvalidInputError);
  });
});
