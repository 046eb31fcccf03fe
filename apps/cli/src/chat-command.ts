import type { Command } from 'commander';
import { Option } from 'commander';
import { runChatRepl } from './chat-repl.js';
import { addTargetOptions, openTarget, type TargetFlags } from './target-options.js';

/** `sessions chat`. */
export function chatCommand(program: Command): Command {
  return addTargetOptions(
    program
      .command('chat')
      .description(
        'chat with the agent, here (the data folder) or on a server (--remote); history is kept across runs',
      )
      .addOption(
        new Option('--model <name>', 'model name, local mode (default gpt-4o-mini)').env('OPENAI_MODEL'),
      )
      .addOption(
        new Option(
          '--offline',
          'local mode: answer from memory and knowledge only, even with a model configured',
        ),
      ),
  )
    .addHelpText(
      'after',
      [
        '',
        'Each line is a message, answered as a stream, or a slash command:',
        '  /memory add <text> | search <query> | list    /knowledge add <file> | search <query> | list',
        '  /state   /context   /agents   /history [n]   /help   /exit',
        'When stdin is not a terminal, one message per line is read until /exit or the end of input;',
        'with --json every answer is a JSON line {"type":"reply","content":...}.',
        '',
        'Local mode uses OPENAI_API_KEY / OPENAI_BASE_URL / OPENAI_MODEL, or answers offline without them.',
        '',
        'Examples:',
        '  sessions chat --session chat_123 --user ada',
        '  sessions chat --remote http://127.0.0.1:8000',
        "  printf 'My name is Ada\\nWhat is my name?\\n' | sessions chat --json",
      ].join('\n'),
    )
    .action(async (flags: TargetFlags) => {
      const target = await openTarget(flags);
      try {
        const failures = await runChatRepl({ target, json: flags.json });
        if (failures > 0 && !process.stdin.isTTY) process.exitCode = 1;
      } finally {
        await target.close();
      }
    });
}
