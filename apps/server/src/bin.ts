#!/usr/bin/env node
import { Command } from 'commander';
import { reportError } from './error-line.js';
import { runServer } from './run-server.js';
import { addServeOptions, type ServeFlags, serverOptionsFrom } from './server-options.js';

const program = addServeOptions(
  new Command('sessions-server')
    .description(
      'The Sessions demo remote agent server: sessions, memory and knowledge on disk, a model from ' +
        'OPENAI_API_KEY / OPENAI_BASE_URL / OPENAI_MODEL, or an offline mode without one.',
    )
    .option('--debug', 'print stack traces of errors'),
)
  .addHelpText(
    'after',
    '\nEnvironment: OPENAI_API_KEY, OPENAI_BASE_URL (any OpenAI-compatible endpoint), OPENAI_MODEL, ' +
      'and SESSIONS_* as listed above.\n' +
      'Examples:\n  sessions-server\n  sessions-server --port 0 --data-dir /tmp/demo\n' +
      '  sessions-server --host 0.0.0.0 --token "alice:$(openssl rand -hex 32)"\n',
  )
  .action(async (flags: ServeFlags) => {
    await runServer(serverOptionsFrom(flags));
  });

program.parseAsync().catch((error: unknown) => reportError(error));
