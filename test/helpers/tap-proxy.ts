// A TCP proxy between a client and a server that records the bytes the server sent, so a
// test can check the order of what a real client received on the wire.
import net from 'node:net';

export interface TapProxy {
  /** Port the client connects to (127.0.0.1). */
  port: number;
  /** Everything the server sent so far, over all proxied connections, as latin1 text. */
  fromServer(): string;
  close(): Promise<void>;
}

export async function startTapProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TapProxy> {
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ port: targetPort, host: targetHost });
    sockets.add(client);
    sockets.add(upstream);
    upstream.on('data', (b) => {
      chunks.push(b);
      client.write(b);
    });
    client.on('data', (b) => upstream.write(b));
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    fromServer: () => Buffer.concat(chunks).toString('latin1'),
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
