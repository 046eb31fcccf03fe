import { pino } from 'pino';

export interface LogDestinationOptions {
  /** A file descriptor or a file path. Default 1 (stdout). */
  dest?: number | string;
}

/** A pino destination: `pino(logDestination())`. */
export interface LogDestination {
  write(line: string): void;
  /** Calls back once every line written so far is written out. */
  flush(callback?: (error?: Error) => void): void;
}

/** What is still held by every destination made here, written out when the process exits. */
const held = new Set<() => void>();
let exitHooked = false;

/**
 * A pino destination for a busy server: the lines logged within one turn of the event loop are
 * written out together, as one asynchronous write (pino's `SonicBoom`, `sync: false`), at the end
 * of that turn. No line waits longer than that turn, and a line costs an array push instead of a
 * write of its own (a hand-off to libuv's thread pool) or, in a buffered `SonicBoom`, a measure of
 * everything buffered so far. What is held when the process exits is written then.
 */
export function logDestination(options: LogDestinationOptions = {}): LogDestination {
  const stream = pino.destination({ dest: options.dest ?? 1, sync: false });
  let pending: string[] = [];
  let scheduled = false;
  const drain = (): void => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.length === 1 ? pending[0]! : pending.join('');
    pending = [];
    stream.write(text);
  };
  held.add(() => {
    if (pending.length === 0) return;
    drain();
    try {
      stream.flushSync();
    } catch {
      // not open yet, or closed: nothing more can be done while exiting
    }
  });
  if (!exitHooked) {
    exitHooked = true;
    process.once('exit', () => {
      for (const writeOut of held) writeOut();
    });
  }
  const flush = (callback?: (error?: Error) => void): void => {
    drain();
    const onError = (error: Error): void => {
      stream.off('drain', onDrain);
      stream.off('ready', onReady);
      callback?.(error);
    };
    const onDrain = (): void => {
      stream.off('error', onError);
      callback?.();
    };
    const onReady = (): void => {
      stream.off('error', onError);
      flush(callback);
    };
    if ((stream as unknown as { fd: number }).fd < 0) {
      // The file is still being opened: its lines are written once it is.
      stream.once('ready', onReady);
      stream.once('error', onError);
      return;
    }
    stream.once('drain', onDrain);
    stream.once('error', onError);
    // An empty write: 'drain' follows once it and everything before it are written.
    stream.write('');
  };
  return {
    write(line) {
      pending.push(line);
      if (!scheduled) {
        scheduled = true;
        setImmediate(drain);
      }
    },
    flush,
  };
}
