import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ServerLogger } from '@sessions/remote-server';
import { pino } from 'pino';

/** A request logger that appends pino's JSON lines to `path` (its folder is created). */
export function fileLogger(path: string): ServerLogger {
  mkdirSync(dirname(path), { recursive: true });
  return pino({ name: 'sessions-server' }, pino.destination({ dest: path, sync: true, append: true }));
}
