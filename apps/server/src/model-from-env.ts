import type { ChatModel } from '@sessions/core';
import { OpenAIChatModel } from '@sessions/openai';
import { OfflineModel } from './offline-model.js';

export interface ModelFromEnvOptions {
  /** Where to read `OPENAI_API_KEY`, `OPENAI_BASE_URL`, `OPENAI_MODEL`. Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** The model name; overrides `OPENAI_MODEL`. Default `'gpt-4o-mini'`. */
  model?: string;
  /** Use the offline model even when a key or URL is set. */
  offline?: boolean;
}

/** The chat model the apps use, and how to describe it. */
export interface ConfiguredModel {
  model: ChatModel;
  /** True when no model is configured and answers come from memory and knowledge only. */
  offline: boolean;
  /** One line for humans: `gpt-4o-mini at https://api.openai.com/v1`, or why it is offline. */
  description: string;
}

export const DEFAULT_MODEL = 'gpt-4o-mini';

/**
 * An `OpenAIChatModel` when `OPENAI_API_KEY` or `OPENAI_BASE_URL` is set (a local server such as
 * Ollama needs no key: a placeholder is sent), else the `OfflineModel`.
 */
export function modelFromEnv(options: ModelFromEnvOptions = {}): ConfiguredModel {
  const env = options.env ?? process.env;
  const apiKey = nonEmpty(env.OPENAI_API_KEY);
  const baseURL = nonEmpty(env.OPENAI_BASE_URL);
  if (options.offline || (apiKey === undefined && baseURL === undefined)) {
    return {
      model: new OfflineModel(),
      offline: true,
      description: options.offline
        ? 'OFFLINE (--offline): answers come from the session memory and knowledge'
        : 'OFFLINE (no OPENAI_API_KEY or OPENAI_BASE_URL): answers come from the session memory and knowledge',
    };
  }
  const name = nonEmpty(options.model) ?? nonEmpty(env.OPENAI_MODEL) ?? DEFAULT_MODEL;
  const model = new OpenAIChatModel({
    model: name,
    apiKey: apiKey ?? 'no-key',
    ...(baseURL !== undefined && { baseURL }),
  });
  return { model, offline: false, description: `${name} at ${baseURL ?? 'https://api.openai.com/v1'}` };
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}
