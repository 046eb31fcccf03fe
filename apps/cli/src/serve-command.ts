import { addServeOptions, runServer, type ServeFlags, serverOptionsFrom } from '@sessions/server';
import type { Command } from 'commander';

/** `sessions serve`: the demo remote agent server (the same as `sessions-server`). */
export function serveCommand(program: Command): Command {
  return addServeOptions(
    program
      .command('serve')
      .description(
        'run the demo remote agent server (sessions, memory, knowledge on disk; a model or offline mode)',
      ),
  )
    .option('--debug', 'print stack traces of errors')
    .addHelpText(
      'after',
      '\nEnvironment: OPENAI_API_KEY, OPENAI_BASE_URL (any OpenAI-compatible endpoint), OPENAI_MODEL.\n' +
        'Examples:\n  sessions serve\n  sessions serve --port 0 --data-dir /tmp/demo\n' +
        '  sessions serve --host 0.0.0.0 --token "alice:$(openssl rand -hex 32)"',
    )
    .action(async (flags: ServeFlags) => {
      await runServer(serverOptionsFrom(flags));
    });
}
