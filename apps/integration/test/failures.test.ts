import type { Server as NetServer, Socket } from 'node:net';
import { createServer as createNetServer, connect as netConnect } from 'node:net';
import { createClient } from '@mini-rpc/client';
import { jsonCodec } from '@mini-rpc/codec';
import type { Frame } from '@mini-rpc/protocol';
import {
  Code,
  CodecId,
  createFrameDecoder,
  encodeFrame,
  FrameType,
  MetadataKey,
  RpcError,
} from '@mini-rpc/protocol';
import { createServer, silentLogger } from '@mini-rpc/server';
import { describe, expect, it } from 'vitest';
import { useCleanups } from '../../../tooling/testing/harness.js';
import { Arith } from './fixtures.js';
import { activeResources, startChildServer, waitFor } from './helpers.js';

const cleanups = useCleanups();

async function arithServer(options: Parameters<typeof createServer>[0] = {}) {
  const server = createServer({ logger: silentLogger, ...options });
  server.addService(new Arith());
  const { port } = await server.listen();
  cleanups.push(() => server.close({ graceMs: 500 }));
  return { server, port };
}

/** A raw socket that speaks frames, for feeding a server bytes no client would send. */
async function rawConnection(port: number) {
  const socket = netConnect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const frames: Frame[] = [];
  const decoder = createFrameDecoder((f) => frames.push(f));
  socket.on('data', (c: Buffer) => decoder.push(c));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => {});
  cleanups.push(() => socket.destroy());
  return { socket, frames, closed };
}

describe('failure behaviour', () => {
  it('rejects pending calls with Unavailable promptly when the server process is killed', async () => {
    const child = await startChildServer();
    cleanups.push(() => child.kill());
    const client = createClient({ address: `127.0.0.1:${child.port}`, timeoutMs: 20_000 });
    cleanups.push(() => client.close());
    expect(await client.call('Arith', 'add', { a: 1, b: 1 })).toBe(2);
    const pending = Array.from({ length: 20 }, () =>
      client.call('Arith', 'slow', { ms: 10_000 }).catch((e: unknown) => e),
    );
    await waitFor(() => client.stats().active === 1, 2_000, 'calls in flight');
    const t0 = Date.now();
    await child.kill('SIGKILL');
    const results = await Promise.all(pending);
    expect(Date.now() - t0).toBeLessThan(2_000);
    for (const r of results) {
      expect(r).toBeInstanceOf(RpcError);
      expect((r as RpcError).code).toBe(Code.Unavailable);
    }
  });

  it('fails a call with DeadlineExceeded when the server never answers', async () => {
    const sockets: Socket[] = [];
    const mute: NetServer = createNetServer((s) => {
      sockets.push(s);
      s.on('data', () => {});
    });
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => mute.close(r)));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
    });
    const port = (mute.address() as { port: number }).port;
    const client = createClient({ address: `127.0.0.1:${port}` });
    cleanups.push(() => client.close());
    const t0 = Date.now();
    const err = (await client
      .call('Arith', 'add', { a: 1, b: 2 }, { timeoutMs: 150 })
      .catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(Date.now() - t0).toBeLessThan(1_500);
  });

  it('declares a frozen server dead through missed heartbeats', async () => {
    const child = await startChildServer();
    cleanups.push(() => child.kill());
    const client = createClient({
      address: `127.0.0.1:${child.port}`,
      heartbeatIntervalMs: 50,
      readTimeoutMs: 300,
      timeoutMs: 20_000,
    });
    cleanups.push(() => client.close());
    expect(await client.call('Arith', 'add', { a: 1, b: 1 })).toBe(2);
    child.process.kill('SIGSTOP');
    cleanups.push(() => child.process.kill('SIGCONT'));
    const t0 = Date.now();
    const err = (await client.call('Arith', 'add', { a: 1, b: 1 }).catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe(Code.Unavailable);
    expect(err.message).toMatch(/silent/);
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('closes only the connection that sent garbage, with a GoAway that says why', async () => {
    const { port } = await arithServer();
    const client = createClient({ address: `127.0.0.1:${port}` });
    cleanups.push(() => client.close());
    const inflight = client.call('Arith', 'slowEcho', { value: 'survivor', ms: 100 });
    const raw = await rawConnection(port);
    raw.socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await raw.closed;
    const goAway = raw.frames.find((f) => f.type === FrameType.GoAway);
    expect(goAway?.metadata[MetadataKey.Status]).toBe(String(Code.InvalidArgument));
    expect(goAway?.metadata[MetadataKey.Message]).toMatch(/bad_magic/);
    expect(await inflight).toBe('survivor');
    expect(await client.call('Arith', 'add', { a: 40, b: 2 })).toBe(42);
  });

  it('refuses an oversize frame before buffering it and keeps serving others', async () => {
    const { port } = await arithServer({ maxPayload: 1024 });
    const client = createClient({ address: `127.0.0.1:${port}` });
    cleanups.push(() => client.close());
    const raw = await rawConnection(port);
    const header = encodeFrame({
      type: FrameType.Request,
      codec: CodecId.Json,
      id: 1,
      payload: new Uint8Array(0),
    });
    // Claim a 1 GiB payload: the server must refuse on the header alone.
    new DataView(header.buffer, header.byteOffset).setUint32(13, 1 << 30);
    raw.socket.write(header);
    await raw.closed;
    const goAway = raw.frames.find((f) => f.type === FrameType.GoAway);
    expect(goAway?.metadata[MetadataKey.Status]).toBe(String(Code.ResourceExhausted));
    expect(await client.call('Arith', 'add', { a: 1, b: 2 })).toBe(3);
  });

  it('answers a request whose arguments do not decode with InvalidArgument', async () => {
    const { port } = await arithServer();
    const raw = await rawConnection(port);
    const payload = new TextEncoder().encode('{not json');
    raw.socket.write(
      encodeFrame({
        type: FrameType.Request,
        codec: CodecId.Json,
        id: 7,
        metadata: { [MetadataKey.Service]: 'Arith', [MetadataKey.Method]: 'add' },
        payload,
      }),
    );
    await waitFor(() => raw.frames.length > 0, 2_000, 'a response');
    expect(raw.frames[0]?.id).toBe(7);
    expect(raw.frames[0]?.metadata[MetadataKey.Status]).toBe(String(Code.InvalidArgument));
  });

  it('resolves 10,000 concurrent calls on one connection with their own results', async () => {
    const { port } = await arithServer();
    const client = createClient({ address: `127.0.0.1:${port}`, pool: { maxActive: 1 } });
    cleanups.push(() => client.close());
    const results = await Promise.all(
      Array.from({ length: 10_000 }, (_, i) => client.call<number>('Arith', 'add', { a: i, b: i })),
    );
    expect(results).toEqual(Array.from({ length: 10_000 }, (_, i) => 2 * i));
    expect(client.stats().created).toBe(1);
  });

  it('answers out of order: a fast call is not held up by a slow one', async () => {
    const { port } = await arithServer();
    const client = createClient({ address: `127.0.0.1:${port}` });
    cleanups.push(() => client.close());
    const order: string[] = [];
    const slow = client
      .call('Arith', 'slowEcho', { value: 'slow', ms: 200 })
      .then((v) => order.push(v as string));
    const fast = client
      .call('Arith', 'slowEcho', { value: 'fast', ms: 1 })
      .then((v) => order.push(v as string));
    await Promise.all([slow, fast]);
    expect(order).toEqual(['fast', 'slow']);
  });

  it('keeps serving after handlers throw, reject, or are refused for too many calls in flight', async () => {
    const { port } = await arithServer({ maxInFlightPerConnection: 2 });
    const client = createClient({ address: `127.0.0.1:${port}`, codec: jsonCodec });
    cleanups.push(() => client.close());
    const thrown = (await client
      .call('Arith', 'fail', { kind: 'plain' })
      .catch((e: unknown) => e)) as RpcError;
    expect(thrown.code).toBe(Code.Unknown);
    expect(thrown.message).not.toMatch(/at .*\.ts/);
    const rejected = (await client
      .call('Arith', 'fail', { kind: 'reject' })
      .catch((e: unknown) => e)) as RpcError;
    expect(rejected.rawMessage).toBe('async boom');
    const calls = [1, 2, 3].map(() =>
      client.call('Arith', 'slowEcho', { value: 'x', ms: 100 }).catch((e: unknown) => e),
    );
    const outcomes = await Promise.all(calls);
    expect(outcomes.filter((o) => o === 'x')).toHaveLength(2);
    expect(outcomes.filter((o) => o instanceof RpcError && o.code === Code.ResourceExhausted)).toHaveLength(
      1,
    );
    expect(await client.call('Arith', 'add', { a: 1, b: 1 })).toBe(2);
  });

  it('settles pending calls with Unavailable on client.close()', async () => {
    const { port } = await arithServer();
    const client = createClient({ address: `127.0.0.1:${port}` });
    const pending = client.call('Arith', 'slowEcho', { value: 'x', ms: 5_000 }).catch((e: unknown) => e);
    await waitFor(() => client.stats().active === 1, 2_000, 'call in flight');
    await client.close();
    expect(((await pending) as RpcError).code).toBe(Code.Unavailable);
    expect(
      ((await client.call('Arith', 'add', { a: 1, b: 1 }).catch((e: unknown) => e)) as RpcError).code,
    ).toBe(Code.Unavailable);
  });

  it('aborting a call rejects it with Cancelled and aborts the handler through a Cancel frame', async () => {
    let handlerAborted: unknown;
    const server = createServer({ logger: silentLogger });
    server.addService(
      {
        wait(_args: unknown, ctx: { signal: AbortSignal }) {
          return new Promise((_resolve, reject) => {
            ctx.signal.addEventListener('abort', () => {
              handlerAborted = ctx.signal.reason;
              reject(ctx.signal.reason);
            });
          });
        },
      },
      { name: 'Waiter' },
    );
    const { port } = await server.listen();
    cleanups.push(() => server.close({ graceMs: 500 }));
    const client = createClient({ address: `127.0.0.1:${port}` });
    cleanups.push(() => client.close());
    const controller = new AbortController();
    const call = client.call('Waiter', 'wait', {}, { signal: controller.signal }).catch((e: unknown) => e);
    await waitFor(() => server.inFlight === 1, 2_000, 'handler running');
    controller.abort();
    expect(((await call) as RpcError).code).toBe(Code.Cancelled);
    await waitFor(() => handlerAborted !== undefined, 2_000, 'handler abort');
    expect((handlerAborted as RpcError).code).toBe(Code.Cancelled);
    await waitFor(() => server.inFlight === 0, 2_000, 'handler finished');
  });

  it('propagates the deadline: the handler sees ctx.deadline and its signal aborts when it passes', async () => {
    let seen: { deadline: number | undefined; reason?: unknown } = { deadline: undefined };
    const server = createServer({ logger: silentLogger });
    server.addService(
      {
        wait(_args: unknown, ctx: { signal: AbortSignal; deadline: number | undefined }) {
          seen = { deadline: ctx.deadline };
          return new Promise((_resolve, reject) => {
            ctx.signal.addEventListener('abort', () => {
              seen.reason = ctx.signal.reason;
              reject(ctx.signal.reason);
            });
          });
        },
      },
      { name: 'Waiter' },
    );
    const { port } = await server.listen();
    cleanups.push(() => server.close({ graceMs: 500 }));
    const client = createClient({ address: `127.0.0.1:${port}` });
    cleanups.push(() => client.close());
    const t0 = Date.now();
    const err = (await client
      .call('Waiter', 'wait', {}, { timeoutMs: 200 })
      .catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(seen.deadline).toBeGreaterThan(t0 + 150);
    expect(seen.deadline).toBeLessThan(t0 + 400);
    await waitFor(() => seen.reason !== undefined, 2_000, 'handler signal');
    expect([Code.DeadlineExceeded, Code.Cancelled]).toContain((seen.reason as RpcError).code);
  });

  it('reconnects after the server comes back on the same port', async () => {
    const first = await startChildServer({ name: 'one' });
    const port = first.port;
    const client = createClient({
      address: `127.0.0.1:${port}`,
      pool: { initialBackoffMs: 20, maxBackoffMs: 100 },
    });
    cleanups.push(() => client.close());
    expect(await client.call('Arith', 'whoami')).toBe('one');
    await first.kill();
    const down = (await client.call('Arith', 'whoami').catch((e: unknown) => e)) as RpcError;
    expect(down.code).toBe(Code.Unavailable);
    const second = await startChildServer({ port, name: 'two' });
    cleanups.push(() => second.kill());
    await waitFor(
      async () => (await client.call('Arith', 'whoami').catch(() => undefined)) === 'two',
      5_000,
      'reconnect',
    );
  });

  it('leaves no sockets or timers open after client.close() and server.close()', async () => {
    const before = activeResources();
    const server = createServer({ logger: silentLogger });
    server.addService(new Arith());
    const { port } = await server.listen();
    const client = createClient({ address: `127.0.0.1:${port}` });
    await Promise.all(Array.from({ length: 50 }, (_, i) => client.call('Arith', 'add', { a: i, b: 1 })));
    await client.call('Arith', 'slowEcho', { value: 'x', ms: 5 }, { timeoutMs: 1_000 });
    await client.close();
    await server.close({ graceMs: 1_000 });
    await waitFor(
      () => {
        const after = activeResources();
        return ['TCPSocketWrap', 'TCPServerWrap', 'Timeout'].every(
          (k) => (after[k] ?? 0) <= (before[k] ?? 0),
        );
      },
      2_000,
      'handles to close',
    );
  });
});
