import { type DemoServer, type DemoServerOptions, startDemoServer } from './demo-server.js';
import { serverBanner } from './server-banner.js';

export interface RunServerOptions {
  /** Where the banner goes. Default `process.stdout`. */
  stdout?: { write(text: string): unknown };
  /** Stop on these signals. Default `['SIGINT', 'SIGTERM']`. */
  signals?: NodeJS.Signals[];
}

/**
 * Starts the demo server, prints where it listens and how to connect, and stops it gracefully on
 * SIGINT or SIGTERM. Resolves when it has stopped.
 */
export async function runServer(options: DemoServerOptions, run: RunServerOptions = {}): Promise<void> {
  const stdout = run.stdout ?? process.stdout;
  const server: DemoServer = await startDemoServer(options);
  stdout.write(serverBanner(server));
  const signals = run.signals ?? ['SIGINT', 'SIGTERM'];
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      for (const signal of signals) process.off(signal, stop);
      stdout.write('Stopping: letting turns in progress finish...\n');
      resolve();
    };
    for (const signal of signals) process.on(signal, stop);
  });
  await server.close();
}
