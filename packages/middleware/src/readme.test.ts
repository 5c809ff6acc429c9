// #region readme
import {
  bearer,
  clientMetrics,
  clientTracing,
  defaultChain,
  hmacTokens,
  serveMetrics,
  signHmacToken,
} from '@mini-rpc/middleware';
import { pino } from 'pino';
import { Registry } from 'prom-client';

const secret = process.env.TOKEN_SECRET ?? 'dev-only-secret-of-at-least-32-bytes';
const registry = new Registry();

// Server: hand `middleware` to the server (first = outermost).
const middleware = defaultChain({
  logger: pino({ level: 'warn' }),
  registry,
  tracing: true,
  auth: { verify: hmacTokens({ secret }) },
  rateLimit: { rate: 100, burst: 20, by: 'caller' },
});
const endpoint = await serveMetrics({ port: 0, registry }); // Prometheus scrapes endpoint.url

// Client: hand `interceptors` to the client (first = outermost).
const token = signHmacToken({ subject: 'reports', ttlMs: 3_600_000 }, secret);
const interceptors = [clientTracing(), clientMetrics({ registry }), bearer(token)];

// #endregion readme

import { readFileSync } from 'node:fs';
import type { CallNext, CallRequest, ClientInterceptor, Metadata } from '@mini-rpc/protocol';
import { createMetadata } from '@mini-rpc/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { compose, makeContext } from '../test/compose.js';

afterAll(() => endpoint.close());

describe('README', () => {
  it('shows the snippet this test runs, verbatim', () => {
    const source = readFileSync(new URL(import.meta.url), 'utf8');
    const snippet = (
      source.split('// #region readme\n')[1]?.split('// #endregion readme')[0] ?? ''
    ).trimEnd();
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(snippet.length).toBeGreaterThan(200);
    expect(readme).toContain(`\`\`\`ts\n${snippet}\n\`\`\``);
  });

  it('runs: a client call through the interceptors is authenticated, served and measured', async () => {
    // The server and client packages wire these for real; here the "network" hands the metadata over.
    const server = compose(
      middleware,
      (ctx) => `hello ${(ctx.state.identity as { subject: string }).subject}`,
    );
    const transport: CallNext = async (call) => {
      const ctx = makeContext({ service: call.service, method: call.method, metadata: { ...call.metadata } });
      await server(ctx);
      return ctx.result;
    };
    const send = interceptors.reduceRight<CallNext>(
      (next, interceptor: ClientInterceptor) => interceptor(next),
      transport,
    );
    const metadata: Metadata = createMetadata();
    const call: CallRequest = {
      service: 'Greeter',
      method: 'hello',
      args: [],
      metadata,
      deadline: undefined,
      signal: undefined,
      idempotent: true,
    };
    expect(await send(call)).toBe('hello reports');

    const scraped = await fetch(endpoint.url).then((res) => res.text());
    expect(scraped).toContain('mini_rpc_server_requests_total{service="Greeter",method="hello",code="OK"} 1');
    expect(scraped).toContain('mini_rpc_client_requests_total{service="Greeter",method="hello",code="OK"} 1');
  });
});
