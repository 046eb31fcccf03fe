import type { ChatEvent, ChatModel, ChatRequest, ChatResponse, Message } from '@sessions/core';

/** What every offline answer starts with, so a reader (and a test) can tell. */
export const OFFLINE_PREFIX = '[offline mode: no model configured]';

export interface OfflineModelOptions {
  /** How the answer begins. Default `OFFLINE_PREFIX`. */
  prefix?: string;
  /** Longest quoted knowledge passage, in characters. Default 300. */
  maxPassageChars?: number;
}

interface PromptContext {
  memories: string[];
  passages: Array<{ citation: string; text: string }>;
}

/**
 * A `ChatModel` for when no model is configured: it answers from what the agent put in the system
 * prompt (the "Relevant memories" and "Relevant knowledge" sections that core adds for an agent
 * with `memory: true` / `knowledge: true`) and the last user message. No network, deterministic.
 * Its own earlier answers, kept as memories by `remember: 'turns'`, are left out of what it quotes,
 * and it lists with `•`, so an answer kept as a memory never reads as a memory line of the prompt.
 */
export class OfflineModel implements ChatModel {
  readonly prefix: string;
  readonly #maxPassageChars: number;

  constructor(options: OfflineModelOptions = {}) {
    this.prefix = options.prefix ?? OFFLINE_PREFIX;
    this.#maxPassageChars = options.maxPassageChars ?? 300;
  }

  async generate(req: ChatRequest): Promise<ChatResponse> {
    req.signal?.throwIfAborted();
    const content = this.answer(req.messages);
    return { content, finishReason: 'stop' };
  }

  async *stream(req: ChatRequest): AsyncIterable<ChatEvent> {
    const response = await this.generate(req);
    for (const piece of response.content.match(/\S+\s*|\s+/g) ?? []) {
      req.signal?.throwIfAborted();
      yield { type: 'delta', delta: piece };
    }
    yield { type: 'done', response };
  }

  /** The answer to `messages`: what the memories and knowledge in the system prompt say. */
  answer(messages: readonly Message[]): string {
    const system = messages.find((message) => message.role === 'system')?.content ?? '';
    const question = [...messages].reverse().find((message) => message.role === 'user')?.content ?? '';
    const { memories, passages } = parsePrompt(system);
    const asked = normalise(question);
    const quoted = [
      ...new Set(memories.filter((text) => !text.startsWith(this.prefix) && normalise(text) !== asked)),
    ];
    const lines = [`${this.prefix} You said: "${oneLine(question, 200)}".`];
    if (quoted.length === 0 && passages.length === 0) {
      lines.push(
        'I have no memory or knowledge that matches it yet. Tell me about yourself (I remember what you say), ' +
          'or add documents with /knowledge add <file>.',
      );
    }
    if (quoted.length > 0) {
      lines.push('From what you told me:');
      for (const text of quoted) lines.push(`• ${oneLine(text, this.#maxPassageChars)}`);
    }
    if (passages.length > 0) {
      lines.push('From the knowledge base:');
      for (const { citation, text } of passages) {
        lines.push(`${citation} ${oneLine(text, this.#maxPassageChars)}`);
      }
    }
    lines.push('(Set OPENAI_API_KEY, or OPENAI_BASE_URL for a local server, and restart for real answers.)');
    return lines.join('\n');
  }
}

/** The memories and knowledge passages of a system prompt built by core's `buildContext`. */
function parsePrompt(system: string): PromptContext {
  const memories: string[] = [];
  const passages: PromptContext['passages'] = [];
  const memoryAt = system.indexOf('Relevant memories:\n');
  const knowledgeAt = system.indexOf('Relevant knowledge:\n');
  if (memoryAt >= 0) {
    const end = knowledgeAt > memoryAt ? knowledgeAt : system.length;
    const section = system.slice(memoryAt + 'Relevant memories:\n'.length, end);
    for (const line of section.split('\n')) {
      if (line.startsWith('- ')) memories.push(line.slice(2));
      else if (memories.length > 0 && line.trim() !== '') memories[memories.length - 1] += `\n${line}`;
    }
  }
  if (knowledgeAt >= 0) {
    const section = system.slice(knowledgeAt + 'Relevant knowledge:\n'.length);
    for (const block of section.split(/\n\n(?=\[\d+\] )/)) {
      const newline = block.indexOf('\n');
      if (!/^\[\d+\] /.test(block)) continue;
      const head = newline < 0 ? block : block.slice(0, newline);
      const text = newline < 0 ? '' : block.slice(newline + 1);
      passages.push({ citation: head.trim(), text: text.trim() });
    }
  }
  return { memories: memories.map((text) => text.trim()).filter(Boolean), passages };
}

function normalise(text: string): string {
  return text.trim().toLowerCase().replace(/\s+/g, ' ');
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
