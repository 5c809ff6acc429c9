import { createClient } from '@mini-rpc/client';
import type { ServerContext } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { createServer, method, service } from '@mini-rpc/server';
import { expect, it, vi } from 'vitest';
import { readReadmeSnippet } from '../../../tooling/testing/readme-snippet.js';

const README = new URL('../../../packages/server/README.md', import.meta.url);

const IMPORTS = [
  "import type { ServerContext } from '@mini-rpc/protocol';",
  "import { Code, RpcError } from '@mini-rpc/protocol';",
  "import { createServer, method, service } from '@mini-rpc/server';",
];

it('the @mini-rpc/server README snippet serves calls from a real client', async () => {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  let stop: (() => Promise<void>) | undefined;
  try {
    // #region readme
    @service('Arith')
    class Arith {
      @method({ idempotent: true })
      add({ a, b }: { a: number; b: number }): number {
        return a + b;
      }

      @method()
      async divide({ a, b }: { a: number; b: number }, ctx: ServerContext): Promise<number> {
        if (b === 0) {
          throw new RpcError(Code.InvalidArgument, 'division by zero', { details: { field: 'b' } });
        }
        ctx.responseMetadata['x-served-by'] = 'arith-1';
        return a / b;
      }

      helper(): string {
        return 'not exposed: no @method()';
      }
    }

    const server = createServer({ shutdownGraceMs: 10_000 });
    server.addService(new Arith());
    server.addService({ hello: ({ name }: { name: string }) => `hello ${name}` }, { name: 'Greeter' });
    server.use(async (ctx, next) => {
      const t0 = performance.now();
      try {
        await next();
      } finally {
        console.log(`${ctx.service}.${ctx.method} ${(performance.now() - t0).toFixed(1)} ms`);
      }
    });
    const { port } = await server.listen({ port: 0 }); // 0: any free port

    // Call it on SIGTERM: deregister → GoAway to clients → finish in-flight calls (up to 10 s) → close.
    const shutdown = (): Promise<void> => server.close();
    // #endregion readme
    stop = shutdown;

    const client = createClient({ address: `127.0.0.1:${port}` });
    const arith = client.service<Arith>('Arith');
    expect(await arith.add({ a: 1, b: 2 })).toBe(3);
    expect(await arith.divide({ a: 9, b: 3 })).toBe(3);
    const err = (await arith.divide({ a: 1, b: 0 }).catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe('division by zero');
    expect(err.details).toEqual({ field: 'b' });
    expect(await client.call('Greeter', 'hello', { name: 'Ada' })).toBe('hello Ada');
    const hidden = (await client.call('Arith', 'helper').catch((e: unknown) => e)) as RpcError;
    expect(hidden.code).toBe(Code.NotFound);
    expect(log.mock.calls.map(([line]) => String(line).replace(/[\d.]+ ms$/, 'N ms'))).toEqual([
      'Arith.add N ms',
      'Arith.divide N ms',
      'Arith.divide N ms',
      'Greeter.hello N ms',
    ]);
    await client.close();
  } finally {
    await stop?.();
    log.mockRestore();
  }
});

it('the @mini-rpc/server README shows exactly the snippet the test runs', () => {
  const { imports, snippet, region } = readReadmeSnippet(README, import.meta.url, IMPORTS.length);
  expect(imports).toEqual(IMPORTS);
  expect(snippet).toBe(region);
});
