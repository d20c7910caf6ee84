// A real network fault on loopback for tests: a TCP listener that either black-holes every connection
// (accepts it and never answers, as a dropped route looks to a client: no refusal, only silence until
// the client's own deadline) or forwards it to a real address (the path healed). What a fault proxy
// (Toxiproxy) does for the lab's fault suite, small enough for a test to own.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

export interface TcpFault {
  /** The loopback port clients are pointed at. */
  port: number;
  /** `https://127.0.0.1:<port>`: where a client configured with this fault connects. */
  url: string;
  /** Silence for every connection from now on (connections already forwarded are cut). */
  blackHole(): void;
  /** Forward every connection from now on to `host:port` (connections held in silence are cut, so clients reconnect). */
  forward(host: string, port: number): void;
  /** Connections accepted so far. */
  readonly accepted: number;
  close(): Promise<void>;
}

export async function startTcpFault(): Promise<TcpFault> {
  let target: { host: string; port: number } | undefined;
  const open = new Set<Socket>();
  let accepted = 0;
  const track = (s: Socket) => {
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => s.destroy());
  };
  const server: Server = createServer((client) => {
    accepted++;
    track(client);
    if (!target) return;
    const upstream = createConnection(target.port, target.host);
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const cutAll = () => {
    for (const s of open) s.destroy();
  };
  return {
    port,
    url: `https://127.0.0.1:${port}`,
    blackHole() {
      target = undefined;
      cutAll();
    },
    forward(host, p) {
      target = { host, port: p };
      cutAll();
    },
    get accepted() {
      return accepted;
    },
    async close() {
      cutAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
