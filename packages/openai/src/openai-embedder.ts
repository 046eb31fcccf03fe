import { type Embedder, InvalidInputError, ModelError } from '@sessions/core';
import type OpenAI from 'openai';
import { createOpenAIClient, type OpenAIClientOptions } from './openai-client.js';
import { toSessionsError } from './openai-errors.js';

export interface OpenAIEmbedderOptions extends OpenAIClientOptions {
  /** The embedding model: `'text-embedding-3-small'`, `'nomic-embed-text'`... */
  model: string;
  /** Ask for vectors of this length (sent as `dimensions`; text-embedding-3 models honour it). */
  dimensions?: number;
  /** Most texts sent in one request; larger inputs are split. Default 256. */
  batchSize?: number;
}

/** Native lengths of OpenAI's embedding models, used until the first answer says otherwise. */
const KNOWN_DIMENSIONS: Record<string, number> = {
  'text-embedding-3-small': 1536,
  'text-embedding-3-large': 3072,
  'text-embedding-ada-002': 1536,
};

function positiveInteger(value: number | undefined, what: string): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new InvalidInputError(`OpenAIEmbedder ${what} must be a positive integer, got ${value}`);
  }
}

/** Little-endian float32 bytes in base64 (the `encoding_format: 'base64'` answer) as a vector. */
function decodeBase64(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length % 4 !== 0) {
    throw new ModelError(`OpenAI embedding is not float32 data (${bytes.length} bytes)`, {
      retryable: false,
    });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const vector = new Float32Array(bytes.length / 4);
  for (let i = 0; i < vector.length; i++) vector[i] = view.getFloat32(i * 4, true);
  return vector;
}

function toVector(embedding: unknown): Float32Array {
  if (typeof embedding === 'string') return decodeBase64(embedding);
  if (Array.isArray(embedding) && embedding.every((value) => typeof value === 'number')) {
    return Float32Array.from(embedding);
  }
  throw new ModelError('OpenAI embedding is neither base64 nor an array of numbers', { retryable: false });
}

/**
 * A core `Embedder` on the official `openai` SDK (`POST /embeddings`). Asks for base64 vectors
 * (and also reads plain float arrays from servers that ignore that), sends at most `batchSize` texts
 * per request, and returns one `Float32Array` per text, in input order.
 */
export class OpenAIEmbedder implements Embedder {
  readonly model: string;
  readonly client: OpenAI;
  readonly batchSize: number;
  readonly #requested: number | undefined;
  #dimensions: number | undefined;
  #settled: boolean;

  constructor(options: OpenAIEmbedderOptions) {
    if (typeof options?.model !== 'string' || options.model.trim() === '') {
      throw new InvalidInputError(
        'OpenAIEmbedder needs a model name: new OpenAIEmbedder({ model: "text-embedding-3-small" })',
      );
    }
    positiveInteger(options.dimensions, 'dimensions');
    positiveInteger(options.batchSize, 'batchSize');
    this.model = options.model;
    this.client = createOpenAIClient(options);
    this.batchSize = options.batchSize ?? 256;
    this.#requested = options.dimensions;
    this.#dimensions = options.dimensions ?? KNOWN_DIMENSIONS[options.model];
    this.#settled = options.dimensions !== undefined;
  }

  /**
   * Length of the vectors: the `dimensions` option when given; else the known length of an OpenAI
   * model, replaced by what the first answer returns; else 0 until the first `embed` call.
   */
  get dimensions(): number {
    return this.#dimensions ?? 0;
  }

  /** One vector per text, in order. Rejects with `ModelError` or `TimeoutError` (see README). */
  async embed(texts: string[]): Promise<Float32Array[]> {
    if (!Array.isArray(texts) || texts.some((text) => typeof text !== 'string')) {
      throw new InvalidInputError('OpenAIEmbedder.embed takes an array of strings');
    }
    const vectors: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += this.batchSize) {
      vectors.push(...(await this.#embedBatch(texts.slice(start, start + this.batchSize))));
    }
    return vectors;
  }

  async #embedBatch(input: string[]): Promise<Float32Array[]> {
    let answer: OpenAI.CreateEmbeddingResponse;
    try {
      answer = await this.client.embeddings.create({
        model: this.model,
        input,
        encoding_format: 'base64',
        ...(this.#requested !== undefined ? { dimensions: this.#requested } : {}),
      });
    } catch (error) {
      throw toSessionsError(error, { what: 'embeddings request', timeout: this.client.timeout });
    }
    const data = Array.isArray(answer?.data) ? answer.data : [];
    const vectors: (Float32Array | undefined)[] = new Array(input.length);
    for (const [position, item] of data.entries()) {
      const index = typeof item.index === 'number' ? item.index : position;
      if (index < 0 || index >= input.length || vectors[index] !== undefined) {
        throw new ModelError(`OpenAI embeddings answer has a bad or repeated index ${index}`, {
          retryable: false,
        });
      }
      vectors[index] = this.#checked(toVector(item.embedding as unknown));
    }
    if (data.length !== input.length) {
      throw new ModelError(`OpenAI embeddings answer has ${data.length} vectors for ${input.length} texts`, {
        retryable: false,
      });
    }
    return vectors as Float32Array[];
  }

  #checked(vector: Float32Array): Float32Array {
    if (!this.#settled) {
      this.#dimensions = vector.length;
      this.#settled = true;
    } else if (vector.length !== this.#dimensions) {
      throw new ModelError(
        `OpenAI embedding has ${vector.length} dimensions, expected ${this.#dimensions}: the server may ignore the dimensions option`,
        { retryable: false },
      );
    }
    return vector;
  }
}
