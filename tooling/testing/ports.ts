import { createServer } from 'node:net';

/**
 * A port on 127.0.0.1 that nothing listens on: bound on port 0, read, then released. A connection to it is
 * refused (ECONNREFUSED) unless something else takes the port in between. Rejects if binding fails.
 *
 * @example
 * const port = await closedPort();
 * await expect(connect({ host: '127.0.0.1', port }, handlers)).rejects.toThrow();
 */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
