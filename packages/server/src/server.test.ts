import { connect as netConnect } from 'node:net';
import { jsonCodec, msgpackCodec } from '@mini-rpc/codec';
import type { Frame, Metadata, ServerContext, ServerMiddleware } from '@mini-rpc/protocol';
import { Code, CodecId, encodeFrame, FrameType, MetadataKey, RpcError } from '@mini-rpc/protocol';
import { connect } from '@mini-rpc/transport';
import { describe, expect, it, vi } from 'vitest';
import { useCleanups, waitFor } from '../../../tooling/testing/harness.js';
import { rawClient } from '../test/raw-client.js';
import type { Logger, ServerOptions } from './index.js';
import { createServer, silentLogger } from './index.js';

const cleanups = useCleanups();

type Ctx = ServerContext;

/** What the test service's handlers saw. */
const seen = {
  calls: 0,
  metadata: undefined as Metadata | undefined,
  peer: '',
  aborts: [] as unknown[],
};

/** Parks calls until `open()`; a parked handler ends early (rejecting) when its signal aborts. */
function createGate() {
  let release!: () => void;
  let opened = new Promise<void>((r) => {
    release = r;
  });
  return {
    wait(ctx: Ctx, value: unknown): Promise<unknown> {
      return new Promise((resolve, reject) => {
        ctx.signal.addEventListener('abort', () => {
          seen.aborts.push(ctx.signal.reason);
          reject(ctx.signal.reason);
        });
        void opened.then(() => resolve(value));
      });
    },
    open(): void {
      release();
      opened = new Promise<void>((r) => {
        release = r;
      });
    },
  };
}

let gate = createGate();

const testService = {
  add({ a, b }: { a: number; b: number }): number {
    seen.calls++;
    return a + b;
  },
  look(_args: unknown, ctx: Ctx): { deadline: number | undefined } {
    seen.calls++;
    seen.metadata = { ...ctx.metadata };
    seen.peer = ctx.peer;
    return { deadline: ctx.deadline };
  },
  parked(args: unknown, ctx: Ctx): Promise<unknown> {
    seen.calls++;
    return gate.wait(ctx, args);
  },
  async farDeadline(_args: unknown, ctx: Ctx): Promise<boolean> {
    const signal = ctx.signal;
    await new Promise((r) => setTimeout(r, 50));
    return signal.aborted;
  },
  throwPlain(): never {
    throw new Error('boom');
  },
  throwString(): never {
    throw 'bare string';
  },
  async rejectRpc(_args: unknown, ctx: Ctx): Promise<never> {
    ctx.responseMetadata['x-trace'] = 'abc';
    throw new RpcError(Code.ResourceExhausted, 'slow down', {
      details: { limit: 5 },
      metadata: { [MetadataKey.RetryAfter]: '250', 'x-user': 'u', [MetadataKey.Service]: 'Forged' },
      cause: new Error('internal reason'),
    });
  },
  withMeta(_args: unknown, ctx: Ctx): string {
    ctx.responseMetadata['x-served-by'] = 'node-1';
    return 'ok';
  },
  bigint(): bigint {
    return 1n;
  },
};

function recordingLogger(): Logger & { lines: { level: string; obj: object; msg: string }[] } {
  const lines: { level: string; obj: object; msg: string }[] = [];
  return {
    lines,
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
  };
}

async function startServer(options: ServerOptions = {}) {
  seen.calls = 0;
  seen.aborts = [];
  gate = createGate();
  const server = createServer({ logger: silentLogger, ...options });
  server.addService(testService, { name: 'Test' });
  const { port } = await server.listen();
  cleanups.push(() => server.close({ graceMs: 200 }));
  return { server, port };
}

const status = (f: Frame): number => Number(f.metadata[MetadataKey.Status]);

describe('dispatch', () => {
  it('answers a Request with a Response of the same id and codec', async () => {
    const { port } = await startServer();
    const c = await rawClient(port, cleanups);
    c.request(1, 'add', { a: 1, b: 2 });
    c.request(2, 'add', { a: 20, b: 22 }, {}, msgpackCodec);
    expect(await c.result(1)).toBe(3);
    expect(await c.result(2, msgpackCodec)).toBe(42);
    expect((await c.response(2)).codec).toBe(CodecId.MessagePack);
    expect((await c.response(1)).codec).toBe(CodecId.Json);
  });

  it('the handler sees the request metadata, its deadline from :t, and the peer address', async () => {
    const { port } = await startServer();
    const c = await rawClient(port, cleanups);
    const t0 = Date.now();
    c.request(1, 'look', undefined, { [MetadataKey.Timeout]: '1500', authorization: 'Bearer x' });
    const { deadline } = (await c.result(1)) as { deadline: number };
    expect(deadline).toBeGreaterThanOrEqual(t0 + 1_500);
    expect(deadline).toBeLessThan(Date.now() + 1_500 + 1);
    expect(seen.metadata?.authorization).toBe('Bearer x');
    expect(seen.metadata?.[MetadataKey.Method]).toBe('look');
    expect(seen.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    c.request(2, 'look');
    expect(await c.result(2)).toEqual({});
  });

  it('NotFound for an unknown service or method, marked not run (:u = 1)', async () => {
    const { port } = await startServer();
    const c = await rawClient(port, cleanups);
    c.request(1, 'nope');
    c.conn.send({
      type: FrameType.Request,
      codec: 0,
      id: 2,
      metadata: { [MetadataKey.Service]: 'Other', [MetadataKey.Method]: 'x' },
    });
    const r1 = await c.response(1);
    expect(status(r1)).toBe(Code.NotFound);
    expect(r1.metadata[MetadataKey.Message]).toBe("unknown method 'Test.nope'");
    expect(r1.metadata[MetadataKey.NotRun]).toBe('1');
    expect(r1.payload.length).toBe(0);
    const r2 = await c.response(2);
    expect(status(r2)).toBe(Code.NotFound);
    expect(r2.metadata[MetadataKey.Message]).toBe("unknown service 'Other'");
    expect(r2.metadata[MetadataKey.NotRun]).toBe('1');
  });

  it('InvalidArgument for a request without :s or :m, and for arguments that do not decode', async () => {
    const { port } = await startServer();
    const c = await rawClient(port, cleanups);
    c.conn.send({ type: FrameType.Request, codec: 0, id: 1, metadata: { [MetadataKey.Service]: 'Test' } });
    c.conn.send({
      type: FrameType.Request,
      codec: CodecId.Json,
      id: 2,
      metadata: { [MetadataKey.Service]: 'Test', [MetadataKey.Method]: 'add' },
      payload: new TextEncoder().encode('{not json'),
    });
    const r1 = await c.response(1);
    expect(status(r1)).toBe(Code.InvalidArgument);
    expect(r1.metadata[MetadataKey.NotRun]).toBe('1');
    const r2 = await c.response(2);
    expect(status(r2)).toBe(Code.InvalidArgument);
    expect(r2.metadata[MetadataKey.Message]).toMatch(/^arguments do not decode/);
    expect(r2.metadata[MetadataKey.NotRun]).toBe('1');
    expect(seen.calls).toBe(0);
  });

  it('Unimplemented for a codec the server does not serve; the connection stays usable', async () => {
    const { port } = await startServer({ codecs: [jsonCodec] });
    const c = await rawClient(port, cleanups);
    c.request(1, 'add', { a: 1, b: 1 }, {}, msgpackCodec);
    c.conn.send({
      type: FrameType.Request,
      codec: CodecId.Protobuf,
      id: 2,
      metadata: { [MetadataKey.Service]: 'Test', [MetadataKey.Method]: 'add' },
    });
    const r1 = await c.response(1);
    expect(status(r1)).toBe(Code.Unimplemented);
    expect(r1.codec).toBe(CodecId.MessagePack);
    expect(r1.metadata[MetadataKey.NotRun]).toBe('1');
    expect(status(await c.response(2))).toBe(Code.Unimplemented);
    c.request(3, 'add', { a: 1, b: 1 });
    expect(await c.result(3)).toBe(2);
    expect(seen.calls).toBe(1);
  });

  it(':t = 0 is DeadlineExceeded without running the handler; a :t that is no number is InvalidArgument', async () => {
    const { port } = await startServer();
    const c = await rawClient(port, cleanups);
    c.request(1, 'add', { a: 1, b: 1 }, { [MetadataKey.Timeout]: '0' });
    c.request(2, 'add', { a: 1, b: 1 }, { [MetadataKey.Timeout]: 'soon' });
    const r1 = await c.response(1);
    expect(status(r1)).toBe(Code.DeadlineExceeded);
    expect(r1.metadata[MetadataKey.NotRun]).toBe('1');
    const r2 = await c.response(2);
    expect(status(r2)).toBe(Code.InvalidArgument);
    expect(r2.metadata[MetadataKey.Message]).toBe("invalid timeout 'soon'");
    expect(seen.calls).toBe(0);
  });

  it('a far deadline (:t above the 2^31−1 ms timer limit) does not abort the handler at once', async () => {
    const { port } = await startServer();
    const c = await rawClient(port, cleanups);
    c.request(1, 'farDeadline', undefined, { [MetadataKey.Timeout]: '3000000000' });
    expect(await c.result(1)).toBe(false);
  });

  it('a handler that throws: Unknown with its message, no stack, no details; the error is logged here', async () => {
    const logger = recordingLogger();
    const { port } = await startServer({ logger });
    const c = await rawClient(port, cleanups);
    c.request(1, 'throwPlain');
    c.request(2, 'throwString');
    const r1 = await c.response(1);
    expect(status(r1)).toBe(Code.Unknown);
    expect(r1.metadata[MetadataKey.Message]).toBe('boom');
    expect(r1.metadata[MetadataKey.Details]).toBeUndefined();
    expect(r1.metadata[MetadataKey.NotRun]).toBeUndefined();
    expect(JSON.stringify(r1.metadata)).not.toMatch(/server\.test|\bat /);
    const r2 = await c.response(2);
    expect(status(r2)).toBe(Code.Unknown);
    expect(r2.metadata[MetadataKey.Message]).toBe('bare string');
    const logged = logger.lines.find((l) => l.msg === 'handler threw');
    expect(logged?.level).toBe('error');
    expect((logged?.obj as { err?: unknown } | undefined)?.err).toBeInstanceOf(Error);
  });

  it('an RpcError reaches the wire with code, message, details, retry hint and user metadata; never its cause or other reserved keys', async () => {
    const { port } = await startServer();
    const c = await rawClient(port, cleanups);
    c.request(1, 'rejectRpc');
    const r = await c.response(1);
    expect(r.metadata).toEqual({
      [MetadataKey.Status]: String(Code.ResourceExhausted),
      [MetadataKey.Message]: 'slow down',
      [MetadataKey.Details]: '{"limit":5}',
      [MetadataKey.RetryAfter]: '250',
      'x-user': 'u',
      'x-trace': 'abc',
    });
  });

  it('response metadata set by the handler travels with a successful response', async () => {
    const { port } = await startServer();
    const c = await rawClient(port, cleanups);
    c.request(1, 'withMeta');
    const r = await c.response(1);
    expect(r.metadata['x-served-by']).toBe('node-1');
    expect(jsonCodec.decode(r.payload)).toBe('ok');
  });

  it('a result that does not encode is Internal, and logged', async () => {
    const logger = recordingLogger();
    const { port } = await startServer({ logger });
    const c = await rawClient(port, cleanups);
    c.request(1, 'bigint');
    const r = await c.response(1);
    expect(status(r)).toBe(Code.Internal);
    expect(r.metadata[MetadataKey.Message]).toBe('result does not encode');
    expect(logger.lines.some((l) => l.level === 'error' && l.msg === 'result does not encode')).toBe(true);
  });

  it('Cancel aborts ctx.signal with Cancelled, and no Response is sent for that call', async () => {
    const { server, port } = await startServer();
    const c = await rawClient(port, cleanups);
    c.request(1, 'parked', 'x');
    await waitFor(() => server.inFlight === 1, 3_000, 'handler running');
    c.conn.send({ type: FrameType.Cancel, codec: 0, id: 1 });
    c.conn.send({ type: FrameType.Cancel, codec: 0, id: 99 }); // not in flight: ignored
    await waitFor(() => seen.aborts.length === 1, 3_000, 'abort');
    expect((seen.aborts[0] as RpcError).code).toBe(Code.Cancelled);
    await waitFor(() => server.inFlight === 0, 3_000, 'call forgotten');
    c.request(2, 'add', { a: 1, b: 1 });
    expect(await c.result(2)).toBe(2);
    expect(c.frames.filter((f) => f.id === 1)).toEqual([]);
  });

  it('a request id already in flight terminates the connection (GoAway InvalidArgument) and aborts its calls', async () => {
    const { server, port } = await startServer();
    const c = await rawClient(port, cleanups);
    c.request(5, 'parked', 'first');
    await waitFor(() => server.inFlight === 1, 3_000, 'first call running');
    c.request(5, 'add', { a: 1, b: 1 });
    await waitFor(() => c.closes.length > 0, 3_000, 'the connection to close');
    const goAway = c.frames.find((f) => f.type === FrameType.GoAway);
    expect(status(goAway as Frame)).toBe(Code.InvalidArgument);
    expect(goAway?.metadata[MetadataKey.Message]).toBe('request id 5 is already in flight');
    await waitFor(() => seen.aborts.length === 1, 3_000, 'the first call to abort');
    expect(server.inFlight).toBe(0);
    expect(seen.calls).toBe(1);
    // Other connections are untouched.
    const other = await rawClient(port, cleanups);
    other.request(5, 'add', { a: 2, b: 2 });
    expect(await other.result(5)).toBe(4);
  });

  it('beyond maxInFlightPerConnection: ResourceExhausted, marked not run; another connection has its own budget', async () => {
    const { server, port } = await startServer({ maxInFlightPerConnection: 2 });
    const c = await rawClient(port, cleanups);
    c.request(1, 'parked', 1);
    c.request(2, 'parked', 2);
    c.request(3, 'parked', 3);
    const r3 = await c.response(3);
    expect(status(r3)).toBe(Code.ResourceExhausted);
    expect(r3.metadata[MetadataKey.NotRun]).toBe('1');
    const other = await rawClient(port, cleanups);
    other.request(1, 'add', { a: 1, b: 1 });
    expect(await other.result(1)).toBe(2);
    expect(server.inFlight).toBe(2);
    gate.open();
    expect(await c.result(1)).toBe(1);
    expect(await c.result(2)).toBe(2);
    c.request(4, 'add', { a: 2, b: 2 });
    expect(await c.result(4)).toBe(4);
  });

  it('a connection reset aborts the handlers of that connection with Unavailable', async () => {
    const { server, port } = await startServer();
    const socket = netConnect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.write(
      encodeFrame({
        type: FrameType.Request,
        codec: CodecId.Json,
        id: 1,
        metadata: { [MetadataKey.Service]: 'Test', [MetadataKey.Method]: 'parked' },
      }),
    );
    await waitFor(() => server.inFlight === 1, 3_000, 'handler running');
    socket.resetAndDestroy();
    await waitFor(() => seen.aborts.length === 1, 3_000, 'abort');
    expect((seen.aborts[0] as RpcError).code).toBe(Code.Unavailable);
    expect(server.inFlight).toBe(0);
    await waitFor(() => server.connections === 0, 3_000, 'connection gone');
  });

  it('a client that half-closes still gets the answers to its calls, then the server ends too', async () => {
    const { server, port } = await startServer();
    const c = await rawClient(port, cleanups);
    c.request(1, 'parked', 'late');
    await waitFor(() => server.inFlight === 1, 3_000, 'handler running');
    const ended = c.conn.end();
    gate.open();
    await ended;
    expect(jsonCodec.decode((await c.response(1)).payload)).toBe('late');
    expect(c.closes).toEqual([undefined]);
    await waitFor(() => server.connections === 0, 3_000, 'connection gone');
  });

  it('closes a connection that stays silent for idleTimeoutMs', async () => {
    const { server, port } = await startServer({ idleTimeoutMs: 100, heartbeatIntervalMs: 0 });
    const c = await rawClient(port, cleanups);
    await waitFor(() => c.closes.length > 0, 3_000, 'the idle connection to close');
    expect(server.connections).toBe(0);
  });

  it('behind middleware, sync and async handlers answer, throw and reject as they do without it', async () => {
    const { server, port } = await startServer();
    const passed: string[] = [];
    server.use(async (ctx, next) => {
      passed.push(ctx.method);
      await next();
    });
    const c = await rawClient(port, cleanups);
    c.request(1, 'add', { a: 2, b: 3 });
    c.request(2, 'farDeadline');
    c.request(3, 'throwPlain');
    c.request(4, 'throwString');
    c.request(5, 'rejectRpc');
    expect(await c.result(1)).toBe(5);
    expect(await c.result(2)).toBe(false);
    const thrown = await c.response(3);
    expect([status(thrown), thrown.metadata[MetadataKey.Message]]).toEqual([Code.Unknown, 'boom']);
    const thrownString = await c.response(4);
    expect([status(thrownString), thrownString.metadata[MetadataKey.Message]]).toEqual([
      Code.Unknown,
      'bare string',
    ]);
    const rejected = await c.response(5);
    expect([status(rejected), rejected.metadata[MetadataKey.Message]]).toEqual([
      Code.ResourceExhausted,
      'slow down',
    ]);
    expect(passed.sort()).toEqual(['add', 'farDeadline', 'rejectRpc', 'throwPlain', 'throwString']);
  });

  it('middleware added after calls were served applies to the next call (chains are rebuilt)', async () => {
    const { server, port } = await startServer();
    const c = await rawClient(port, cleanups);
    c.request(1, 'add', { a: 1, b: 1 });
    expect(await c.result(1)).toBe(2);
    const double: ServerMiddleware = async (ctx, next) => {
      await next();
      ctx.result = (ctx.result as number) * 2;
    };
    const tag: ServerMiddleware = async (ctx, next) => {
      ctx.responseMetadata['x-scope'] = ctx.method;
      await next();
    };
    server.use(double);
    server.useFor('Test.withMeta', tag);
    c.request(2, 'add', { a: 1, b: 1 });
    expect(await c.result(2)).toBe(4);
    c.request(3, 'withMeta');
    expect((await c.response(3)).metadata['x-scope']).toBe('withMeta');
    expect((await c.response(2)).metadata['x-scope']).toBeUndefined();
  });
});

describe('server API', () => {
  it('addService refuses a duplicate name; listen refuses to start empty or twice', async () => {
    const empty = createServer({ logger: silentLogger });
    await expect(empty.listen()).rejects.toThrow(TypeError);
    const server = createServer({ logger: silentLogger });
    expect(server.addService({ a: () => 1 }, { name: 'A' })).toBe(server);
    expect(() => server.addService({ b: () => 1 }, { name: 'A' })).toThrow(
      'addService: service A is already registered',
    );
    expect(server.port).toBeUndefined();
    const { host, port } = await server.listen();
    cleanups.push(() => server.close({ graceMs: 100 }));
    expect(host).toBe('127.0.0.1');
    expect(server.port).toBe(port);
    await expect(server.listen()).rejects.toThrow(/already listening/);
  });

  it('close() is idempotent and a closed server refuses connections', async () => {
    const { server, port } = await startServer();
    const first = server.close();
    expect(server.close()).toBe(first);
    await first;
    const refused = await connect({ host: '127.0.0.1', port }, { onFrame: () => {} }).then(
      (c) => {
        c.close();
        return undefined;
      },
      (e: unknown) => e as RpcError,
    );
    expect(refused?.code).toBe(Code.Unavailable);
  });
});

describe('logger', () => {
  it('consoleLogger writes warnings and errors to stderr; silentLogger and info write nothing', async () => {
    const { consoleLogger } = await import('./index.js');
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      consoleLogger.info({ a: 1 }, 'quiet');
      silentLogger.error({ a: 1 }, 'quiet');
      consoleLogger.warn({ peer: 'p' }, 'careful');
      consoleLogger.error(new Error('bad'), 'failed');
      expect(spy).toHaveBeenCalledTimes(2);
      expect(spy.mock.calls[0]?.[0]).toBe('[mini-rpc] warn careful {"peer":"p"}');
      expect(spy.mock.calls[1]?.[0]).toMatch(/^\[mini-rpc\] error failed \{"err":"Error: bad/);
    } finally {
      spy.mockRestore();
    }
  });
});
