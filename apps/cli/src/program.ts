import { Command } from 'commander';
import { chatCommand } from './chat-command.js';
import { demoCommand } from './demo-command.js';
import { knowledgeCommand } from './knowledge-command.js';
import { memoryCommand } from './memory-command.js';
import { serveCommand } from './serve-command.js';
import { sessionsCommand } from './sessions-command.js';
import { stateCommand } from './state-command.js';

/** The `sessions` command and its subcommands. Parse errors throw `CommanderError` (see `bin.ts`). */
export function createProgram(): Command {
  const program = new Command('sessions')
    .description(
      'Stateful AI sessions from the command line: chat with an agent that remembers you, manage its ' +
        'memory, knowledge and state, here (the data folder, .sessions) or on a server (--remote URL).',
    )
    .exitOverride()
    .addHelpText(
      'after',
      [
        '',
        'Every read command takes --json. Errors are one line on stderr (exit 1; usage errors exit 2);',
        '--debug (or SESSIONS_DEBUG=1) adds the stack.',
        '',
        'Examples:',
        '  sessions demo                              the demo server and a chat connected to it',
        '  sessions chat --session chat_123',
        '  sessions memory add "User prefers technical explanations"',
        '  sessions knowledge add handbook.md && sessions knowledge search "paid leave"',
        '  sessions state show --json',
        '  sessions serve --port 8000',
      ].join('\n'),
    );
  chatCommand(program);
  memoryCommand(program);
  knowledgeCommand(program);
  stateCommand(program);
  sessionsCommand(program);
  serveCommand(program);
  demoCommand(program);
  return program;
}
