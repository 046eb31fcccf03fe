import { assertSessionId, InvalidInputError } from '@sessions/core';
import { createDemoAssembly } from '@sessions/server';
import { type Command, Option } from 'commander';
import { LocalTarget } from './local-target.js';
import { RemoteTarget } from './remote-target.js';
import type { SessionTarget } from './session-target.js';

/** Where a command works: which session, local or remote. */
export interface TargetFlags {
  session: string;
  user?: string;
  remote?: string;
  token?: string;
  dataDir: string;
  store?: string;
  model?: string;
  offline?: boolean;
  json?: boolean;
  debug?: boolean;
}

export const DEFAULT_SESSION = 'default';

/** `--data-dir` and `--store`: where local sessions live. */
export function addDataOptions(command: Command): Command {
  return command
    .addOption(
      new Option('-d, --data-dir <dir>', 'folder of local sessions, memory and knowledge')
        .env('SESSIONS_DATA_DIR')
        .default('.sessions'),
    )
    .addOption(
      new Option(
        '--store <url>',
        'where local sessions live: sqlite (default: sessions.sqlite in the data folder), sqlite://FILE, redis://HOST:PORT, fs',
      ).env('SESSIONS_STORE_URL'),
    );
}

/** `--remote` and `--token`: talk to a demo server instead of the local data folder. */
export function addRemoteOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        '-r, --remote <url>',
        'work on a remote agent server (http://127.0.0.1:8000) instead of local data',
      ).env('SESSIONS_REMOTE'),
    )
    .addOption(new Option('-t, --token <token>', 'bearer token for --remote').env('SESSIONS_TOKEN'));
}

/** The options that pick a session, here or remote. */
export function addTargetOptions(command: Command, { json = true }: { json?: boolean } = {}): Command {
  command
    .addOption(
      new Option('-s, --session <id>', 'session id (1-128 of A-Z a-z 0-9 . _ -)')
        .env('SESSIONS_SESSION')
        .default(DEFAULT_SESSION),
    )
    .addOption(
      new Option('-u, --user <id>', 'user id (default: the stored one, else default_user)').env(
        'SESSIONS_USER',
      ),
    );
  addRemoteOptions(command);
  addDataOptions(command);
  if (json) command.option('--json', 'print JSON');
  return command.option('--debug', 'print stack traces of errors');
}

/** The session the flags name. Local targets open the data folder (close them when done). */
export async function openTarget(flags: TargetFlags): Promise<SessionTarget> {
  assertSessionId(flags.session);
  if (flags.user !== undefined && flags.user.trim() === '') {
    throw new InvalidInputError('Invalid --user: use a non-empty id');
  }
  if (flags.remote !== undefined) {
    return new RemoteTarget({
      url: flags.remote,
      sessionId: flags.session,
      userId: flags.user,
      token: flags.token,
    });
  }
  const assembly = await createDemoAssembly({
    dataDir: flags.dataDir,
    storeUrl: flags.store,
    model: flags.model,
    offline: flags.offline,
  });
  try {
    return new LocalTarget({ assembly, sessionId: flags.session, userId: flags.user });
  } catch (error) {
    await assembly.close();
    throw error;
  }
}

/** Runs `work` on the target the flags name, and closes it. */
export async function withTarget<T>(
  flags: TargetFlags,
  work: (target: SessionTarget) => Promise<T>,
): Promise<T> {
  const target = await openTarget(flags);
  try {
    return await work(target);
  } finally {
    await target.close();
  }
}
