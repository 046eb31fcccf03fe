import { NotConfiguredError } from '@sessions/core';
import OpenAI from 'openai';

/** How to reach an OpenAI-compatible API. Unset fields fall back to the SDK's defaults and env. */
export interface OpenAIClientOptions {
  /** Default: env `OPENAI_API_KEY`. Local servers (Ollama, vLLM, llama.cpp) take any non-empty string. */
  apiKey?: string;
  /** Default: env `OPENAI_BASE_URL`, else `https://api.openai.com/v1`. */
  baseURL?: string;
  /** Default: env `OPENAI_ORG_ID`. */
  organization?: string;
  /** Milliseconds to wait for a response (until the first byte of a stream). SDK default: 10 minutes. */
  timeout?: number;
  /** Retries of connection errors, 408, 409, 429 and 5xx, with backoff. SDK default: 2. */
  maxRetries?: number;
  /** Headers sent with every request (gateway keys, `api-key` for Azure-style gateways...). */
  defaultHeaders?: Record<string, string>;
  /** A ready `OpenAI` client (for example an `AzureOpenAI`); the options above are then ignored. */
  client?: OpenAI;
}

/** The given client, or a new `OpenAI` client; a missing API key becomes a `NotConfiguredError`. */
export function createOpenAIClient(options: OpenAIClientOptions): OpenAI {
  if (options.client) return options.client;
  const { apiKey, baseURL, organization, timeout, maxRetries, defaultHeaders } = options;
  try {
    return new OpenAI({
      ...(apiKey !== undefined ? { apiKey } : {}),
      ...(baseURL !== undefined ? { baseURL } : {}),
      ...(organization !== undefined ? { organization } : {}),
      ...(timeout !== undefined ? { timeout } : {}),
      ...(maxRetries !== undefined ? { maxRetries } : {}),
      ...(defaultHeaders !== undefined ? { defaultHeaders } : {}),
    });
  } catch (error) {
    throw new NotConfiguredError(
      'No OpenAI API key: pass the apiKey option or set OPENAI_API_KEY (local servers such as Ollama accept any non-empty key)',
      { cause: error },
    );
  }
}
