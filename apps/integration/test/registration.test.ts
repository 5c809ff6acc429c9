import type { ServiceProxy } from '@mini-rpc/client';
import { createClient } from '@mini-rpc/client';
import { Code, RpcError } from '@mini-rpc/protocol';
import { createServer, method, service, silentLogger } from '@mini-rpc/server';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { Arith } from './fixtures.js';

class Greeter {
  private readonly greeting = 'hello';
  greet({ name }: { name: string }): string {
    return `${this.greeting}, ${name}`;
  }
  async shout({ name }: { name: string }): Promise<string> {
    return `${this.greeting.toUpperCase()}, ${name.toUpperCase()}!`;
  }
  _internal(): string {
    return 'private by convention';
  }
}

@service('Counter')
class Counter {
  n = 0;
  increment(): number {
    return ++this.n;
  }
  @method({ name: 'peek' })
  current(): number {
    return this.n;
  }
}

describe('service registration', () => {
  const server = createServer({ logger: silentLogger });
  server.addService(new Arith());
  server.addService(new Greeter(), { name: 'Greeter' });
  server.addService({ now: () => 42, echo: (args: unknown) => args }, { name: 'Plain' });
  server.addService(new Counter());
  let address = '';
  beforeAll(async () => {
    address = `127.0.0.1:${(await server.listen()).port}`;
  });
  afterAll(() => server.close({ graceMs: 500 }));

  it('serves several services on one server: decorated, reflected class instance, plain object', async () => {
    const client = createClient({ address });
    expect(await client.service<Arith>('Arith').add({ a: 2, b: 3 })).toBe(5);
    expect(await client.service<Greeter>('Greeter').greet({ name: 'Ada' })).toBe('hello, Ada');
    expect(await client.service<Greeter>('Greeter').shout({ name: 'ada' })).toBe('HELLO, ADA!');
    expect(await client.call('Plain', 'now')).toBe(42);
    expect(await client.call('Plain', 'echo', { deep: [1, { x: 'y' }] })).toEqual({ deep: [1, { x: 'y' }] });
    await client.close();
  });

  it('exposes only @method methods of a decorated class, under their wire names', async () => {
    const client = createClient({ address });
    expect(await client.call('Counter', 'peek')).toBe(0);
    const err = (await client.call('Counter', 'increment').catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toBe("unknown method 'Counter.increment'");
    const hidden = (await client.call('Greeter', '_internal').catch((e: unknown) => e)) as RpcError;
    expect(hidden.code).toBe(Code.NotFound);
    const unknown = (await client.call('Nope', 'x').catch((e: unknown) => e)) as RpcError;
    expect(unknown).toBeInstanceOf(RpcError);
    expect(unknown.rawMessage).toBe("unknown service 'Nope'");
    await client.close();
  });

  it('types the proxy from the server class, with no code generation', () => {
    type Proxy = ServiceProxy<Greeter>;
    expectTypeOf<Proxy['greet']>().parameter(0).toEqualTypeOf<{ name: string }>();
    expectTypeOf<ReturnType<Proxy['shout']>>().toEqualTypeOf<Promise<string>>();
    expectTypeOf<Proxy>().not.toHaveProperty('_internal');
    expectTypeOf<ReturnType<ServiceProxy<Arith>['add']>>().toEqualTypeOf<Promise<number>>();
  });

  it('go() returns a call whose completion can be awaited or observed later', async () => {
    const client = createClient({ address });
    const call = client.go<number>('Arith', 'add', { a: 20, b: 22 });
    expect(call.settled).toBe(false);
    const done = await call.done;
    expect(done.settled).toBe(true);
    expect(done.result).toBe(42);
    const failing = client.go('Arith', 'fail', { kind: 'rpc' });
    await failing.done;
    expect(failing.error?.code).toBe(Code.FailedPrecondition);
    const cancelled = client.go('Arith', 'slowEcho', { value: 'x', ms: 2_000 });
    cancelled.cancel();
    await cancelled.done;
    expect(cancelled.error?.code).toBe(Code.Cancelled);
    await client.close();
  });

  it('rejects reserved metadata keys from callers', async () => {
    const client = createClient({ address });
    const err = (await client
      .call('Arith', 'add', { a: 1, b: 1 }, { metadata: { ':s': 'Other' } })
      .catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe(Code.InvalidArgument);
    await client.close();
  });
});
