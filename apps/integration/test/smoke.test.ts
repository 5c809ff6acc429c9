import { createClient } from '@mini-rpc/client';
import { jsonCodec } from '@mini-rpc/codec';
import { Code, RpcError } from '@mini-rpc/protocol';
import { createServer, silentLogger } from '@mini-rpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Arith } from './fixtures.js';

describe('a call end to end', () => {
  const server = createServer({ logger: silentLogger });
  server.addService(new Arith());
  let port = 0;
  beforeAll(async () => {
    ({ port } = await server.listen());
  });
  afterAll(() => server.close({ graceMs: 1000 }));

  it('calls through a typed proxy with msgpack and json', async () => {
    const client = createClient({ address: `127.0.0.1:${port}` });
    const arith = client.service<Arith>('Arith');
    expect(await arith.add({ a: 1, b: 2 })).toBe(3);
    expect(await client.call('Arith', 'add', { a: 2, b: 5 }, { codec: jsonCodec })).toBe(7);
    const err = await client.call('Arith', 'helper').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(Code.NotFound);
    const fail = await arith.fail({ kind: 'rpc' }).catch((e: unknown) => e as RpcError);
    expect(fail.code).toBe(Code.FailedPrecondition);
    expect(fail.details).toEqual({ hint: 'later' });
    const plain = await arith.fail({ kind: 'plain' }).catch((e: unknown) => e as RpcError);
    expect(plain.code).toBe(Code.Unknown);
    expect(plain.rawMessage).toBe('boom');
    await client.close();
  });
});
