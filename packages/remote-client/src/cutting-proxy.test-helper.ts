import { connect, createServer, type Socket } from 'node:net';

/** What the proxy does with one client connection, in the order connections arrive. */
export type CutPlan =
  /** Forward the request, then drop the connection when the answer starts: the server acted, the client never hears. */
  | { cut: 'on-answer' }
  /** Forward the answer until its text so far matches `pattern`, then drop the connection. */
  | { cut: 'after'; pattern: RegExp };

/**
 * A TCP proxy on 127.0.0.1 in front of a server, that cuts chosen connections: a lost answer or a
 * stream broken by the network, for real. Connections without a plan pass through.
 */
export interface CuttingProxy {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Plans for the next connections, first in first out. */
  plan(...plans: CutPlan[]): void;
  /** The raw request heads seen, one per request (`POST /agent HTTP/1.1\r\n...`). */
  heads: string[];
  close(): Promise<void>;
}

export async function startCuttingProxy(target: { host: string; port: number }): Promise<CuttingProxy> {
  const plans: CutPlan[] = [];
  const sockets = new Set<Socket>();
  const heads: string[] = [];
  const server = createServer((client) => {
    const plan = plans.shift();
    const upstream = connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      for (const match of text.matchAll(
        /(?:^|\r\n\r\n)((?:GET|POST|PUT|PATCH|DELETE) [^\r]+\r\n[\s\S]*?\r\n\r\n)/g,
      )) {
        if (match[1] !== undefined) heads.push(match[1]);
      }
      upstream.write(chunk);
    });
    let answered = '';
    upstream.on('data', (chunk: Buffer) => {
      if (plan?.cut === 'on-answer') return drop();
      client.write(chunk);
      if (plan?.cut === 'after') {
        answered += chunk.toString('utf8');
        if (plan.pattern.test(answered)) client.write('', () => drop());
      }
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    plan: (...more) => plans.push(...more),
    heads,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
