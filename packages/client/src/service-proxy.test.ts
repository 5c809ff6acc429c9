import { describe, expectTypeOf, it } from 'vitest';
import type { CallOptions } from './call-options.js';
import type { ServiceProxy } from './service-proxy.js';

// The proxy's promise is its types: these assertions are checked by `pnpm typecheck` (tsc over the tests),
// where a wrong mapping is a compile error. The runtime proxy is tested in client.test.ts and client-guards.test.ts.

interface Ctx {
  readonly requestId: bigint;
}

class Shop {
  private readonly stock = new Map<string, number>();
  readonly region: string = 'eu';
  count = 0;
  add(args: { sku: string; n: number }, _ctx: Ctx): number {
    this.stock.set(args.sku, args.n);
    return args.n;
  }
  async find(args: { sku: string }): Promise<{ sku: string; n: number } | undefined> {
    const n = this.stock.get(args.sku);
    return n === undefined ? undefined : { sku: args.sku, n };
  }
  ping(): 'pong' {
    return 'pong';
  }
  maybe(args?: { verbose: boolean }): boolean {
    return args?.verbose ?? false;
  }
  _internal(): void {}
  toJSON(): string {
    return 'shop';
  }
}

type Proxy = ServiceProxy<Shop>;

describe('ServiceProxy', () => {
  it('maps each public method to (args, options?) => Promise of its awaited result', () => {
    expectTypeOf<Proxy['add']>().toEqualTypeOf<
      (args: { sku: string; n: number }, options?: CallOptions) => Promise<number>
    >();
    expectTypeOf<Proxy['find']>().returns.toEqualTypeOf<Promise<{ sku: string; n: number } | undefined>>();
    expectTypeOf<Proxy['add']>().parameter(1).toEqualTypeOf<CallOptions | undefined>();
  });

  it('makes the arguments optional when the method takes none or accepts undefined', () => {
    expectTypeOf<Proxy['ping']>().toBeCallableWith();
    expectTypeOf<Proxy['ping']>().returns.toEqualTypeOf<Promise<'pong'>>();
    expectTypeOf<Proxy['maybe']>().toBeCallableWith();
    expectTypeOf<Proxy['maybe']>().toBeCallableWith({ verbose: true }, { timeoutMs: 50 });
  });

  it('refuses arguments of the wrong shape', () => {
    // @ts-expect-error n must be a number
    expectTypeOf<Proxy['add']>().toBeCallableWith({ sku: 'a', n: '1' });
    // @ts-expect-error the arguments are required
    expectTypeOf<Proxy['add']>().toBeCallableWith();
  });

  it('leaves out fields, methods whose name starts with _, and names JavaScript reads by itself (toJSON)', () => {
    expectTypeOf<keyof Proxy>().toEqualTypeOf<'add' | 'find' | 'ping' | 'maybe'>();
  });

  it('is read-only', () => {
    const proxy = {} as Proxy;
    // @ts-expect-error a proxy's methods cannot be replaced
    proxy.ping = async () => 'pong' as const;
    expectTypeOf(proxy).toHaveProperty('ping');
  });
});
