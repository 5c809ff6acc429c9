import type { Server } from 'node:http';
import { request } from 'node:http';
import { metrics, serveMetrics } from '@mini-rpc/middleware';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { compose, makeContext } from '../test/compose.js';

// The http servers serveMetrics creates, so a test can make one report an error as Node would.
const created = vi.hoisted(() => [] as Server[]);
vi.mock('node:http', async (importOriginal) => {
  const http = await importOriginal<typeof import('node:http')>();
  const createServer = ((...args: Parameters<typeof http.createServer>) => {
    const server = http.createServer(...args);
    created.push(server);
    return server;
  }) as typeof http.createServer;
  return { ...http, createServer, default: { ...http, createServer } };
});

/** One HTTP request over real TCP, with keep-alive off so close() has nothing to wait for. */
function fetchText(
  url: string,
  method = 'GET',
): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

describe('serveMetrics', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
  });

  it('answers GET /metrics on 127.0.0.1 with the registry text and content type', async () => {
    const registry = new Registry();
    await compose([metrics({ registry })], () => 'ok')(makeContext({ service: 'Users', method: 'get' }));
    const endpoint = await serveMetrics({ port: 0, registry });
    closers.push(endpoint.close);
    expect(endpoint.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const res = await fetchText(endpoint.url);
    expect(res.status).toBe(200);
    expect(res.type).toBe(registry.contentType);
    expect(res.body).toContain('mini_rpc_server_requests_total{service="Users",method="get",code="OK"} 1');
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    const endpoint = await serveMetrics({ port: 0, registry: new Registry() });
    closers.push(endpoint.close);
    expect((await fetchText(endpoint.url.replace('/metrics', '/'))).status).toBe(404);
    expect((await fetchText(endpoint.url, 'POST')).status).toBe(405);
    expect((await fetchText(`${endpoint.url}?x=1`)).status).toBe(200);
  });

  it('keeps serving, with a warning, when the listening socket reports an error (EMFILE on accept)', async () => {
    const endpoint = await serveMetrics({ port: 0, registry: new Registry() });
    closers.push(endpoint.close);
    const server = created.at(-1);
    expect(server?.listening).toBe(true);
    const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
    // Without a listener, Node throws an emitted 'error' — in production, out of the accept callback.
    const emfile = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE', syscall: 'accept' });
    expect(() => server?.emit('error', emfile)).not.toThrow();
    expect((await warned).message).toContain('EMFILE');
    expect((await fetchText(endpoint.url)).status).toBe(200);
  });

  it('rejects when the port is taken, and stops answering after close()', async () => {
    const first = await serveMetrics({ port: 0, registry: new Registry() });
    const port = Number(new URL(first.url).port);
    await expect(serveMetrics({ port, registry: new Registry() })).rejects.toMatchObject({
      code: 'EADDRINUSE',
    });
    await first.close();
    await expect(fetchText(first.url)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
