import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { register } from 'prom-client';

/** Options for {@link serveMetrics}. */
export interface ServeMetricsOptions {
  /** TCP port; 0 picks a free one (read it from `url`). */
  port: number;
  /** Interface to listen on. Default `'127.0.0.1'`: expose it wider on purpose, not by accident. */
  host?: string;
  /** The registry to serve. Default: prom-client's global `register`. */
  registry?: Registry;
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** The scrape URL, e.g. `http://127.0.0.1:9464/metrics`. */
  readonly url: string;
  /** Stops listening and closes open connections (keep-alive scrapers included). */
  close(): Promise<void>;
}

/**
 * Starts a plain `node:http` server that answers `GET /metrics` with the registry's text, under the
 * registry's content type. Other paths answer 404, other methods 405; a registry that fails to collect
 * answers 500 with a short message. An error of the listening socket after start (e.g. `EMFILE` on accept)
 * becomes a process warning (`MINI_RPC_METRICS_SERVER`), not a crash.
 *
 * @throws the listen error (e.g. `EADDRINUSE`) as a rejected promise.
 * @example
 * ```ts
 * const endpoint = await serveMetrics({ port: 9464, registry });
 * console.log(`scrape ${endpoint.url}`);
 * await endpoint.close();
 * ```
 */
export async function serveMetrics(options: ServeMetricsOptions): Promise<MetricsServer> {
  const registry = options.registry ?? register;
  const host = options.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    void answer(registry, req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;
  const url = `http://${shown}:${port}/metrics`;
  // Once listening, a server still emits 'error' when accept() fails (EMFILE when out of descriptors), and
  // an 'error' event nobody listens to kills the process: warn and keep serving instead.
  server.on('error', (err) => {
    process.emitWarning(`metrics endpoint ${url}: ${err.message}`, { code: 'MINI_RPC_METRICS_SERVER' });
  });
  return {
    url,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function answer(registry: Registry, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = req.url?.split('?', 1)[0];
  if (path !== '/metrics') {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end();
    return;
  }
  try {
    const body = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch {
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics collection failed\n');
  }
}
