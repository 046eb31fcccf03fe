import { basename, join, relative, resolve } from 'node:path';
import {
  addServeOptions,
  fileLogger,
  type ServeFlags,
  serverOptionsFrom,
  startDemoServer,
} from '@sessions/server';
import { type Command, Option } from 'commander';
import pc from 'picocolors';
import { runChatRepl } from './chat-repl.js';
import { RemoteTarget } from './remote-target.js';
import { DEFAULT_SESSION } from './target-options.js';

interface DemoFlags extends ServeFlags {
  session: string;
  user?: string;
  json?: boolean;
}

/** `sessions demo`: the demo server and a chat connected to it, in one command. */
export function demoCommand(program: Command): Command {
  return addServeOptions(
    program
      .command('demo')
      .description(
        'start the demo server (port 8000, or a free one when taken) and chat with it; the server stops when the chat ends',
      ),
  )
    .addOption(
      new Option('-s, --session <id>', 'session to chat in').env('SESSIONS_SESSION').default(DEFAULT_SESSION),
    )
    .addOption(new Option('-u, --user <id>', 'user id').env('SESSIONS_USER'))
    .option('--json', 'answers as JSON lines')
    .option('--debug', 'print stack traces of errors')
    .addHelpText(
      'after',
      "\nExamples:\n  sessions demo\n  printf 'hello\\n/exit\\n' | sessions demo --port 0",
    )
    .action(async (flags: DemoFlags) => {
      const options = serverOptionsFrom(flags);
      const logFile = join(resolve(options.dataDir ?? '.sessions'), 'server.log');
      const server = await startDemoServer({
        ...options,
        fallbackToFreePort: true,
        ...(options.logger === undefined && { logger: fileLogger(logFile) }),
      });
      try {
        const target = new RemoteTarget({
          url: server.agentUrl,
          sessionId: flags.session,
          userId: flags.user,
          ...(flags.token?.[0] !== undefined && { token: firstSecret(flags.token[0]) }),
        });
        const failures = await runChatRepl({
          target,
          json: flags.json,
          banner: [
            `Demo server on ${pc.cyan(server.url)} · model: ${
              server.assembly.offline
                ? pc.yellow(server.assembly.modelDescription)
                : server.assembly.modelDescription
            }`,
            `Data and request log (server.log) in ${server.assembly.dataDir}.`,
            `From another terminal: ${cliCommand()} chat --remote ${server.url}   (the server stops when this chat ends)`,
          ],
        });
        if (failures > 0 && !process.stdin.isTTY) process.exitCode = 1;
      } finally {
        await server.close();
      }
    });
}

/** The secret of the first `--token [principal:]secret`. */
function firstSecret(token: string): string {
  const first = token.split(',')[0]!.trim();
  const colon = first.indexOf(':');
  return colon > 0 ? first.slice(colon + 1) : first;
}

/** How to run this CLI again from here: `sessions` when it is on the PATH, else `node <path>`. */
function cliCommand(): string {
  const script = process.argv[1];
  if (script === undefined || basename(script) === 'sessions') return 'sessions';
  return `node ${relative(process.cwd(), script)}`;
}
