import { createAgentServer, type ServerLogger } from '@sessions/remote-server';
import { createDemoAssembly, type DemoAssembly, type DemoAssemblyOptions } from './demo-assembly.js';

export interface DemoServerOptions extends DemoAssemblyOptions {
  /** Default 8000; 0 picks a free port (read it from `url`). */
  port?: number;
  /** Default `'127.0.0.1'`. Anything but loopback needs `tokens`. */
  host?: string;
  /** When `port` is taken, listen on a free port instead of failing. Default false. */
  fallbackToFreePort?: boolean;
  /** Bearer tokens and the principal each speaks for: `{ '<secret>': 'alice' }`. Default: none (loopback only). */
  tokens?: Record<string, string>;
  /** Request log (pino or the same shape); `false`: none. Default: pino on stdout. */
  logger?: ServerLogger | false;
  /** Time allowed for one turn, in ms. Default 120 000. */
  modelTimeoutMs?: number;
}

/** The demo server, listening. */
export interface DemoServer {
  /** `http://127.0.0.1:8000`: the base URL, with the real port. */
  url: string;
  /** `http://127.0.0.1:8000/agent`. */
  agentUrl: string;
  port: number;
  host: string;
  /** Whether auth tokens are required. */
  auth: boolean;
  assembly: DemoAssembly;
  /** Graceful shutdown: in-flight turns finish, then the stores are closed. */
  close(): Promise<void>;
}

/** Starts the demo remote agent server (`createAgentServer` over the demo assembly). */
export async function startDemoServer(options: DemoServerOptions = {}): Promise<DemoServer> {
  const tokens = options.tokens && Object.keys(options.tokens).length > 0 ? options.tokens : undefined;
  // A user id is what a client says: with tokens of several principals, one memory for all would
  // let one principal read another's user-scoped memories by naming its user id. So each principal
  // gets a memory of its own, shared by its sessions.
  const principals = new Set(Object.values(tokens ?? {})).size;
  const assembly = await createDemoAssembly({
    ...options,
    sharedMemory: options.sharedMemory ?? (principals <= 1 ? true : 'principal'),
  });
  try {
    const server = createAgentServer({
      agent: assembly.agent,
      model: assembly.model,
      store: assembly.store,
      memory: (sessionId, owner) => assembly.memory(sessionId, owner),
      knowledge: (sessionId) => assembly.knowledge(sessionId),
      onSessionDelete: (sessionId) => assembly.onSessionDelete(sessionId),
      ...(tokens && { auth: { tokens } }),
      ...(options.logger !== undefined && { logger: options.logger }),
      ...(options.modelTimeoutMs !== undefined && { modelTimeoutMs: options.modelTimeoutMs }),
    });
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? 8000;
    let listening: Awaited<ReturnType<typeof server.listen>>;
    try {
      listening = await server.listen({ port, host });
    } catch (error) {
      if (!options.fallbackToFreePort || !addressInUse(error)) throw error;
      listening = await server.listen({ port: 0, host });
    }
    return {
      url: listening.url,
      agentUrl: `${listening.url}/agent`,
      port: listening.port,
      host: listening.host,
      auth: tokens !== undefined,
      assembly,
      async close() {
        try {
          await listening.close();
        } finally {
          await assembly.close();
        }
      },
    };
  } catch (error) {
    await assembly.close();
    throw error;
  }
}

function addressInUse(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  return cause?.code === 'EADDRINUSE';
}
