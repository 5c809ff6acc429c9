import type { Socket } from 'node:net';
import { createServer } from 'node:net';
import type { Cleanups } from '../../../tooling/testing/harness.js';

/**
 * A TCP server on 127.0.0.1 that accepts and never writes a byte: a TLS connect to it hangs in the
 * handshake. Returns its port; `cleanups` closes it and its sockets.
 */
export async function silentServer(cleanups: Cleanups): Promise<number> {
  const sockets: Socket[] = [];
  const server = createServer((s) => sockets.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as { port: number }).port;
}
