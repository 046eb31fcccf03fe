import { InvalidInputError } from '@sessions/core';
import { isLoopbackHost } from '@sessions/remote-server';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { DemoServerOptions } from './demo-server.js';

/** The options of `sessions-server` / `sessions serve`, as commander parses them. */
export interface ServeFlags {
  port: number;
  host: string;
  dataDir: string;
  store?: string;
  token?: string[];
  model?: string;
  offline?: boolean;
  log: boolean;
}

/** Parses a TCP port (0 = any free port). */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidArgumentError('use a number from 0 to 65535 (0: any free port)');
  }
  return port;
}

/** Parses `[principal:]secret` tokens, comma-separated or repeated; a bare secret speaks for `default`. */
export function parseTokens(values: readonly string[]): Record<string, string> {
  const tokens: Record<string, string> = {};
  for (const value of values.flatMap((item) => item.split(','))) {
    const trimmed = value.trim();
    if (trimmed === '') continue;
    const colon = trimmed.indexOf(':');
    const principal = colon > 0 ? trimmed.slice(0, colon) : 'default';
    const secret = colon > 0 ? trimmed.slice(colon + 1) : trimmed;
    if (secret.length < 8) {
      throw new InvalidArgumentError(
        `token for "${principal}" is too short: use at least 8 characters (e.g. openssl rand -hex 32)`,
      );
    }
    tokens[secret] = principal;
  }
  return tokens;
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** Adds the server's options (each also read from the environment) to `command`. */
export function addServeOptions(command: Command): Command {
  return command
    .addOption(
      new Option('-p, --port <port>', 'port to listen on (0: any free port)')
        .env('SESSIONS_PORT')
        .argParser(parsePort)
        .default(8000),
    )
    .addOption(
      new Option('--host <host>', 'address to bind; anything but loopback needs --token')
        .env('SESSIONS_HOST')
        .default('127.0.0.1'),
    )
    .addOption(
      new Option('-d, --data-dir <dir>', 'folder of sessions, memory and knowledge')
        .env('SESSIONS_DATA_DIR')
        .default('.sessions'),
    )
    .addOption(
      new Option(
        '--store <url>',
        'where sessions live: sqlite (default: sessions.sqlite in the data folder), sqlite://FILE, redis://HOST:PORT, fs',
      ).env('SESSIONS_STORE_URL'),
    )
    .addOption(
      new Option(
        '--token <[principal:]secret>',
        'require this bearer token (repeat, or comma-separate, for more; a bare secret speaks for "default")',
      )
        .env('SESSIONS_TOKENS')
        .argParser(collect),
    )
    .addOption(
      new Option('--model <name>', 'model name for the OpenAI-compatible endpoint (default gpt-4o-mini)').env(
        'OPENAI_MODEL',
      ),
    )
    .addOption(new Option('--offline', 'answer from memory and knowledge only, even with a model configured'))
    .addOption(new Option('--no-log', 'do not log requests (one JSON line each on stdout)'));
}

/** `DemoServerOptions` from parsed flags. */
export function serverOptionsFrom(flags: ServeFlags): DemoServerOptions {
  const tokens = parseTokens(flags.token ?? []);
  if (flags.host !== undefined && !isLoopbackHost(flags.host) && Object.keys(tokens).length === 0) {
    throw new InvalidInputError(
      `Refusing to listen on ${flags.host} without a token: anyone who can reach that address could use the agent, ` +
        'its sessions and your model account. Pass --token <principal>:<secret> (or SESSIONS_TOKENS; e.g. a secret ' +
        'from openssl rand -hex 32), or leave --host at 127.0.0.1 (this machine only).',
    );
  }
  return {
    port: flags.port,
    host: flags.host,
    dataDir: flags.dataDir,
    ...(flags.store !== undefined && { storeUrl: flags.store }),
    ...(flags.model !== undefined && { model: flags.model }),
    ...(flags.offline && { offline: true }),
    ...(Object.keys(tokens).length > 0 && { tokens }),
    ...(!flags.log && { logger: false as const }),
  };
}
