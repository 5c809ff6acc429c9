import { createRequire } from 'node:module';
import { createClient } from '@mini-rpc/client';
import { metrics, recovery } from '@mini-rpc/middleware';
import type { ServerContext } from '@mini-rpc/protocol';
import { createServer, silentLogger } from '@mini-rpc/server';
import { expect, it } from 'vitest';

const req = createRequire(createRequire(import.meta.url).resolve('@mini-rpc/middleware'));
const prom = req('prom-client');
const pino = req('pino');

it('scratch', async () => {
  const registry = new prom.Registry();
  let aborted: unknown;
  const server = createServer({
    logger: silentLogger,
    middleware: [recovery({ logger: pino({ level: 'silent' }) }), metrics({ registry })],
  });
  server.addService(
    {
      hang(_a: unknown, ctx: ServerContext) {
        ctx.signal.addEventListener('abort', () => {
          aborted = ctx.signal.reason;
        });
        return new Promise(() => {});
      },
      hang2() {
        return new Promise(() => {});
      },
      ok() {
        return 1;
      },
    },
    { name: 'S' },
  );
  const { port } = await server.listen();
  const client = createClient({ address: `127.0.0.1:${port}` });
  const e = await client.call('S', 'hang', {}, { timeoutMs: 200 }).catch((x) => x);
  console.log('client err', e.code, e.message);
  const t = Date.now();
  while (aborted === undefined && Date.now() - t < 2000) await new Promise((r) => setTimeout(r, 5));
  console.log('aborted', aborted, 'inFlight', server.inFlight);
  const e2 = await client.call('S', 'hang2', {}, { timeoutMs: 200 }).catch((x) => x);
  console.log('client err2', e2.code, e2.message, 'inFlight', server.inFlight);
  console.log(await client.call('S', 'ok'));
  await new Promise((r) => setTimeout(r, 500));
  console.log('inFlight later', server.inFlight);
  console.log(await registry.metrics());
  await client.close();
  await server.close({ graceMs: 100 });
  console.log('closed, inFlight', server.inFlight);
  expect(1).toBe(1);
});
