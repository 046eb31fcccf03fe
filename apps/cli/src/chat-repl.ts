import { createInterface } from 'node:readline';
import { InvalidInputError } from '@sessions/core';
import { debugRequested, errorLine } from '@sessions/server';
import pc from 'picocolors';
import {
  formatContext,
  formatDocument,
  formatDocuments,
  formatKnowledgeHits,
  formatMemories,
  formatMemory,
  formatMemoryHits,
  formatMessages,
  formatState,
} from './formatters.js';
import { KnowledgeProgress } from './knowledge-progress.js';
import type { SessionTarget } from './session-target.js';

export interface ChatReplOptions {
  target: SessionTarget;
  /** JSON Lines on stdout: `{ type: 'reply', content }` per answer, `{ type, result }` per command. */
  json?: boolean | undefined;
  /** Lines shown before the first prompt (after the chat's own). */
  banner?: string[];
  input?: NodeJS.ReadableStream & { isTTY?: boolean };
}

export const CHAT_HELP: string = [
  'Commands:',
  '  /memory add <text>        remember a fact',
  '  /memory search <query>    memories relevant to a query',
  '  /memory list              every memory of the session',
  '  /knowledge add <file>     add a document (txt, md, html, pdf, docx, json, csv)',
  '  /knowledge search <query> passages relevant to a query, with citations',
  '  /knowledge list           documents of the session',
  '  /state                    the user state',
  '  /context                  the session: id, user, message count, agents',
  '  /agents                   the agents that spoke in this session',
  '  /history [n]              the last n messages (default 10)',
  '  /help                     this list',
  '  /exit                     leave (so do Ctrl+D and, when idle, Ctrl+C)',
].join('\n');

/**
 * The chat loop: each line is a message (answered as a stream) or a slash command. On a terminal
 * it prompts; otherwise it reads one message per line until `/exit` or the end of input, so it can
 * be scripted. A line that fails prints one error line and the chat goes on; resolves to the number
 * of lines that failed.
 */
export async function runChatRepl(options: ChatReplOptions): Promise<number> {
  const { target } = options;
  const json = options.json === true;
  const input = options.input ?? process.stdin;
  const tty = input.isTTY === true && process.stdout.isTTY === true && !json;
  const note = (text: string): void => {
    (tty ? process.stdout : process.stderr).write(`${text}\n`);
  };
  const emit = (value: unknown): void => {
    process.stdout.write(`${JSON.stringify(value)}\n`);
  };

  const context = (await target.exists()) ? await target.context() : undefined;
  note(
    `${pc.bold('Sessions chat')} · session ${pc.cyan(target.sessionId)}${context ? ` · user ${context.userId}` : ''} · ${target.where}`,
  );
  if (target.offline) {
    note(
      pc.yellow(
        'OFFLINE mode: no model configured, answers come from the session memory and knowledge (set OPENAI_API_KEY or OPENAI_BASE_URL for a real model).',
      ),
    );
  }
  for (const line of options.banner ?? []) note(line);
  note(
    context && context.messageCount > 0
      ? `Resuming: ${context.messageCount} messages so far (/history shows them). /help for commands, /exit to leave.`
      : 'New session. Type a message; /help for commands, /exit to leave.',
  );

  const rl = createInterface({
    input,
    ...(tty && { output: process.stdout }),
    terminal: tty,
  });
  let current: AbortController | undefined;
  let failures = 0;
  rl.on('SIGINT', () => {
    if (current) current.abort(new Error('Stopped'));
    else rl.close();
  });
  const prompt = (): void => {
    if (tty) {
      rl.setPrompt(pc.green('you › '));
      rl.prompt();
    }
  };

  const show = (type: string, result: unknown, text: () => string): void => {
    if (json) emit({ type, result });
    else process.stdout.write(`${text()}\n`);
  };

  const turn = async (message: string): Promise<void> => {
    current = new AbortController();
    let content = '';
    try {
      if (tty) process.stdout.write(pc.magenta('assistant › '));
      for await (const { delta } of target.stream(message, { signal: current.signal })) {
        content += delta;
        if (!json) process.stdout.write(delta);
      }
      if (json) emit({ type: 'reply', sessionId: target.sessionId, content });
      else process.stdout.write('\n');
    } catch (error) {
      if (!current.signal.aborted) throw error;
      process.stdout.write(pc.dim(' (stopped: nothing of this turn was kept)\n'));
    } finally {
      current = undefined;
    }
  };

  /** Runs a slash command; true to leave. */
  const command = async (line: string): Promise<boolean> => {
    const [name = '', ...rest] = line.slice(1).split(/\s+/);
    const [sub = '', ...words] = rest;
    const arg = words.join(' ').trim();
    switch (name) {
      case 'exit':
      case 'quit':
        return true;
      case 'help':
        show('help', CHAT_HELP, () => CHAT_HELP);
        return false;
      case 'memory':
        if (sub === 'add' && arg) {
          const record = await target.addMemory(arg);
          show('memory', record, () => formatMemory(record));
        } else if (sub === 'search' && arg) {
          const hits = await target.searchMemory(arg, 5);
          show('memory', hits, () => formatMemoryHits(hits));
        } else if (sub === 'list') {
          const records = await target.listMemory();
          show('memory', records, () => formatMemories(records));
        } else throw new InvalidInputError('Use /memory add <text>, /memory search <query> or /memory list');
        return false;
      case 'knowledge':
        if (sub === 'add' && arg) {
          const progress = new KnowledgeProgress({ files: 1 });
          try {
            progress.next(arg);
            const document = await target.addKnowledge(arg, progress.update);
            progress.stop();
            show('knowledge', document, () => formatDocument(document));
          } finally {
            progress.stop();
          }
        } else if (sub === 'search' && arg) {
          const hits = await target.searchKnowledge(arg, 5);
          show('knowledge', hits, () => formatKnowledgeHits(hits));
        } else if (sub === 'list') {
          const documents = await target.listKnowledge();
          show('knowledge', documents, () => formatDocuments(documents));
        } else {
          throw new InvalidInputError(
            'Use /knowledge add <file>, /knowledge search <query> or /knowledge list',
          );
        }
        return false;
      case 'state': {
        const state = (await target.exists()) ? await target.state() : {};
        show('state', state, () => formatState(state));
        return false;
      }
      case 'context':
      case 'agents': {
        await target.ensure();
        const context = await target.context();
        if (name === 'context') show('context', context, () => formatContext(context));
        else {
          show('agents', context.agents, () =>
            context.agents.length === 0 ? '(no agent has spoken yet)' : context.agents.join('\n'),
          );
        }
        return false;
      }
      case 'history': {
        const count = sub === '' ? 10 : Number(sub);
        if (!Number.isInteger(count) || count < 1) throw new InvalidInputError('Use /history [n], n ≥ 1');
        const messages = (await target.exists()) ? (await target.messages()).slice(-count) : [];
        show('history', messages, () => formatMessages(messages));
        return false;
      }
      default:
        throw new InvalidInputError(`Unknown command /${name}: /help lists them`);
    }
  };

  prompt();
  for await (const raw of rl) {
    const line = raw.trim();
    if (line === '') {
      prompt();
      continue;
    }
    try {
      if (line.startsWith('/')) {
        if (await command(line)) break;
      } else {
        await turn(line);
      }
    } catch (error) {
      failures += 1;
      if (tty) process.stdout.write('\n');
      if (json) emit({ type: 'error', message: errorLine(error) });
      process.stderr.write(`error: ${errorLine(error)}\n`);
      if (debugRequested() && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    }
    prompt();
  }
  rl.close();
  return failures;
}
