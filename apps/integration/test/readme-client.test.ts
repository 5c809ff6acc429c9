import { createClient } from '@mini-rpc/client';
import type { ServerContext } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { createServer, method, service, silentLogger } from '@mini-rpc/server';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { readReadmeSnippet } from '../../../tooling/testing/readme-snippet.js';

const README = new URL('../../../packages/client/README.md', import.meta.url);

const IMPORTS = [
  "import { createClient } from '@mini-rpc/client';",
  "import { Code, RpcError } from '@mini-rpc/protocol';",
  "import type { Arith } from './arith.js'; // the server's class, as a type: no code generation",
];

/** The server side the README's client talks to (what `./arith.js` would hold). */
@service('Arith')
class Arith {
  @method({ idempotent: true })
  add({ a, b }: { a: number; b: number }, ctx: ServerContext): number {
    if (ctx.metadata.authorization !== 'Bearer dev-token')
      throw new RpcError(Code.Unauthenticated, 'no token');
    return a + b;
  }

  @method()
  divide({ a, b }: { a: number; b: number }): number {
    if (b === 0) throw new RpcError(Code.InvalidArgument, 'division by zero', { details: { field: 'b' } });
    return a / b;
  }
}

const server = createServer({ logger: silentLogger });
server.addService(new Arith());
const previous = process.env.ARITH_ADDRESS;
beforeAll(async () => {
  const { port } = await server.listen();
  process.env.ARITH_ADDRESS = `127.0.0.1:${port}`;
});
afterAll(async () => {
  if (previous === undefined) delete process.env.ARITH_ADDRESS;
  else process.env.ARITH_ADDRESS = previous;
  await server.close({ graceMs: 500 });
});

it('the @mini-rpc/client README snippet calls a real server and prints what its comments say', async () => {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    // #region readme
    const client = createClient({
      address: process.env.ARITH_ADDRESS ?? '127.0.0.1:4000',
      timeoutMs: 5_000, // no call waits longer; the server gets the time left as its deadline
      interceptors: [
        (next) => (call) => {
          call.metadata.authorization = 'Bearer dev-token';
          return next(call);
        },
      ],
    });

    const arith = client.service<Arith>('Arith');
    console.log(await arith.add({ a: 1, b: 2 })); // 3

    try {
      await arith.divide({ a: 1, b: 0 }, { timeoutMs: 500 });
    } catch (err) {
      if (!(err instanceof RpcError)) throw err;
      console.log(err.code === Code.InvalidArgument, err.rawMessage, err.details); // true division by zero { field: 'b' }
    }

    const call = client.go<number>('Arith', 'add', { a: 2, b: 3 }); // starts now; await it later
    console.log((await call.done).result); // 5

    await client.close(); // calls still pending fail with Unavailable
    // #endregion readme
    expect(log.mock.calls).toEqual([[3], [true, 'division by zero', { field: 'b' }], [5]]);
  } finally {
    log.mockRestore();
  }
});

it('the @mini-rpc/client README shows exactly the snippet the test runs', () => {
  const { imports, snippet, region } = readReadmeSnippet(README, import.meta.url, IMPORTS.length);
  expect(imports).toEqual(IMPORTS);
  expect(snippet).toBe(region);
});
