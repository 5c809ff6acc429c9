import { connect as netConnect } from 'node:net';
import { jsonCodec, msgpackCodec } from '@mini-rpc/codec';
import type { Frame, Metadata, ServerContext, ServerMiddleware } from '@mini-rpc/protocol';
import {
  Code,
  CodecId,
  createFrameDecoder,
  encodeFrame,
  FrameType,
  MetadataKey,
  RpcError,
} from '@mini-rpc/protocol';
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
  async big(size: number): Promise<string> {
    return 'x'.repeat(size);
  },
  bigSync(size: number): string {
    return 'x'.repeat(size);
  },
  async numberMeta(_args: unknown, ctx: Ctx): Promise<number> {
    (ctx.responseMetadata as Record<string, unknown>)['x-n'] = 42;
    return 1;
  },
  reservedMeta(_args: unknown, ctx: Ctx): number {
    ctx.responseMetadata[MetadataKey.NotRun] = '1';
    return 1;
  },
  async throwOdd(kind: string): Promise<never> {
    if (kind === 'null-proto') throw Object.create(null);
    if (kind === 'bigint') throw 10n;
    const cycle: Record<string, unknown> = { name: 'cycle' };
    cycle.self = cycle;
    throw cycle;
  },
  async rejectNumericMeta(_args: unknown, ctx: Ctx): Promise<never> {
    (ctx.responseMetadata as Record<string, unknown>)['x-count'] = 3;
    ctx.responseMetadata['x-ok'] = 'yes';
    throw new RpcError(Code.ResourceExhausted, 'busy', {
      metadata: { 'retry-after-s': 5 as unknown as string, 'x-kept': 'k' },
    });
  },
  longMessage(): never {
    throw new Error('m'.repeat(100_000));
  },
  hang(): Promise<never> {
    seen.calls++;
    return new Promise(() => {});
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

/** A plain TCP socket that has sent one `parked` Request (id 1): a call running until the test resets it. */
async function parkedOnRawSocket(port: number) {
  const socket = netConnect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  cleanups.push(() => socket.destroy());
  await new Promise<void>((r) => socket.once('connect', () => r()));
  socket.write(
    encodeFrame({
      type: FrameType.Request,
      codec: CodecId.Json,
      id: 1,
      metadata: { [MetadataKey.Service]: 'Test', [MetadataKey.Method]: 'parked' },
    }),
  );
  return socket;
}

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
    c.request(3, 'add', { a: 1, b: 1 }, { [MetadataKey.Timeout]: '' });
    c.request(4, 'add', { a: 1, b: 1 }, { [MetadataKey.Timeout]: ' ' });
    c.request(5, 'add', { a: 1, b: 1 }, { [MetadataKey.Timeout]: '00' });
    expect([status(await c.response(3)), status(await c.response(4)), status(await c.response(5))]).toEqual([
      Code.InvalidArgument,
      Code.InvalidArgument,
      Code.DeadlineExceeded,
    ]);
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
    const socket = await parkedOnRawSocket(port);
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

describe('answers that cannot go out as made, and odd throws', () => {
  it('a result over maxPayload is ResourceExhausted for that call only, async or sync; the connection serves on', async () => {
    const logger = recordingLogger();
    const { port } = await startServer({ maxPayload: 1024, logger });
    const c = await rawClient(port, cleanups);
    c.request(1, 'big', 4096);
    c.request(2, 'bigSync', 4096);
    c.request(3, 'big', 10);
    for (const id of [1, 2]) {
      const r = await c.response(id);
      expect(status(r)).toBe(Code.ResourceExhausted);
      expect(r.metadata[MetadataKey.Message]).toMatch(/^response not sent: payload of \d+ bytes exceeds/);
    }
    expect(await c.result(3)).toBe('x'.repeat(10));
    expect(c.closes).toEqual([]);
    expect(logger.lines.filter((l) => l.msg === 'response not sent')).toHaveLength(2);
  });

  it('response metadata that is not a string, or uses a reserved key, is Internal with the reason, and logged', async () => {
    const logger = recordingLogger();
    const { port } = await startServer({ logger });
    const c = await rawClient(port, cleanups);
    c.request(1, 'numberMeta');
    c.request(2, 'reservedMeta');
    const r1 = await c.response(1);
    expect(status(r1)).toBe(Code.Internal);
    expect(r1.metadata[MetadataKey.Message]).toBe(
      "response metadata value of 'x-n' is a number, not a string",
    );
    const r2 = await c.response(2);
    expect(status(r2)).toBe(Code.Internal);
    expect(r2.metadata[MetadataKey.NotRun]).toBeUndefined();
    expect(r2.metadata[MetadataKey.Message]).toBe("response metadata key ':u' is reserved");
    expect(logger.lines.filter((l) => l.level === 'error')).toHaveLength(2);
  });

  it('an error whose metadata holds a non-string value still answers, without that entry', async () => {
    const { port } = await startServer();
    const c = await rawClient(port, cleanups);
    c.request(1, 'rejectNumericMeta');
    const r = await c.response(1);
    expect(r.metadata).toEqual({
      [MetadataKey.Status]: String(Code.ResourceExhausted),
      [MetadataKey.Message]: 'busy',
      'x-kept': 'k',
      'x-ok': 'yes',
    });
  });

  it('throws of values String() cannot print (no prototype, bigint, a cycle) answer Unknown, logged by the console logger', async () => {
    const written: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((line: string) => {
      written.push(line);
    });
    cleanups.push(() => spy.mockRestore());
    const { consoleLogger } = await import('./index.js');
    const { port } = await startServer({ logger: consoleLogger });
    const c = await rawClient(port, cleanups);
    c.request(1, 'throwOdd', 'null-proto');
    c.request(2, 'throwOdd', 'bigint');
    c.request(3, 'throwOdd', 'cycle');
    const messages = [];
    for (const id of [1, 2, 3]) {
      const r = await c.response(id);
      expect(status(r)).toBe(Code.Unknown);
      messages.push(r.metadata[MetadataKey.Message]);
    }
    expect(messages).toEqual(['[object Object]', '10', '[object Object]']);
    expect(written.filter((l) => l.includes('handler threw'))).toHaveLength(3);
    expect(written.find((l) => l.includes('"self":"[Circular]"'))).toBeDefined();
  });

  it("an error message over the peer's metadata limit goes out cut short, with its code", async () => {
    const { port } = await startServer();
    const c = await rawClient(port, cleanups);
    c.request(1, 'longMessage');
    c.request(2, 'add', { a: 1, b: 2 });
    const r = await c.response(1);
    expect(status(r)).toBe(Code.Unknown);
    expect(r.metadata[MetadataKey.Message]).toBe(`${'m'.repeat(1024)}…`);
    expect(await c.result(2)).toBe(3);
    expect(c.closes).toEqual([]);
  });

  it('a peer that stops reading gets ResourceExhausted for answers over the write queue, once it reads; others are served meanwhile', async () => {
    const logger = recordingLogger();
    const { server, port } = await startServer({ logger });
    const socket = netConnect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.pause();
    const frames = [];
    for (let id = 1; id <= 40; id++) {
      frames.push(
        encodeFrame({
          type: FrameType.Request,
          codec: CodecId.Json,
          id,
          metadata: { [MetadataKey.Service]: 'Test', [MetadataKey.Method]: 'big' },
          payload: jsonCodec.encode(1 << 20),
        }),
      );
    }
    socket.write(Buffer.concat(frames));
    // 40 answers of 1 MiB do not fit the 16 MiB write queue (nor the socket buffers) of a peer that reads nothing.
    await waitFor(() => logger.lines.some((l) => l.msg === 'response not sent'), 5_000, 'a refused answer');
    await waitFor(() => server.inFlight === 0, 5_000, 'every call answered');
    const c = await rawClient(port, cleanups);
    c.request(1, 'add', { a: 2, b: 2 });
    expect(await c.result(1)).toBe(4);
    const answers = new Map<number, Frame>();
    const decoder = createFrameDecoder((f) => answers.set(f.id, { ...f, payload: f.payload.slice() }));
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    socket.resume();
    await waitFor(() => answers.size === 40, 5_000, 'all 40 answers');
    const outcomes = [...answers.values()].map((f) =>
      f.metadata[MetadataKey.Status] === undefined ? 'ok' : status(f),
    );
    expect(outcomes).toContain('ok');
    expect(outcomes).toContain(Code.ResourceExhausted);
    for (const f of answers.values()) {
      if (f.metadata[MetadataKey.Status] === undefined) expect(f.payload.length).toBe((1 << 20) + 2);
      else expect(f.metadata[MetadataKey.Message]).toMatch(/^response not sent: write queue to .* is full/);
    }
    socket.destroy();
  });

  it('a call past its deadline is answered DeadlineExceeded and forgotten although its handler never settles', async () => {
    const { server, port } = await startServer();
    const c = await rawClient(port, cleanups);
    c.request(1, 'hang', undefined, { [MetadataKey.Timeout]: '50' });
    c.request(2, 'hang');
    await waitFor(() => seen.calls === 2, 3_000, 'handlers running');
    const r = await c.response(1);
    expect(status(r)).toBe(Code.DeadlineExceeded);
    expect(server.inFlight).toBe(1); // call 2 has no deadline: it runs until the connection goes
    expect(c.find(FrameType.Response, 2)).toBeUndefined();
  });

  it('a plain-JS middleware that calls next() and returns nothing: the call ends with the handler, result or error', async () => {
    const { server, port } = await startServer();
    server.use(((_ctx: Ctx, next: () => Promise<void>) => {
      void next();
    }) as unknown as ServerMiddleware);
    const c = await rawClient(port, cleanups);
    c.request(1, 'farDeadline');
    c.request(2, 'withMeta');
    c.request(3, 'throwPlain');
    expect(await c.result(1)).toBe(false); // answered after its 50 ms, not at once with nothing
    expect((await c.response(2)).metadata['x-served-by']).toBe('node-1');
    const thrown = await c.response(3);
    expect([status(thrown), thrown.metadata[MetadataKey.Message]]).toEqual([Code.Unknown, 'boom']);
    expect(c.closes).toEqual([]);
  });

  it('a thrown Proxy whose traps throw is answered Unknown, sync or async, with or without middleware, even by a logger that throws', async () => {
    const trap = (): never => {
      throw new Error('trap');
    };
    const hostile = (): object =>
      new Proxy({}, { get: trap, getPrototypeOf: trap, has: trap, ownKeys: trap });
    const logger = recordingLogger();
    logger.error = () => {
      throw new Error('logger down');
    };
    const { server, port } = await startServer({ logger });
    server.addService(
      {
        sync(): never {
          throw hostile();
        },
        async later(): Promise<never> {
          throw hostile();
        },
      },
      { name: 'Hostile' },
    );
    const c = await rawClient(port, cleanups);
    const ask = (id: number, methodName: string): void =>
      c.conn.send({
        type: FrameType.Request,
        codec: CodecId.Json,
        id,
        metadata: { [MetadataKey.Service]: 'Hostile', [MetadataKey.Method]: methodName },
      });
    ask(1, 'sync');
    ask(2, 'later');
    server.use((_ctx, next) => next());
    ask(3, 'sync');
    ask(4, 'later');
    for (const id of [1, 2, 3, 4]) {
      const r = await c.response(id);
      expect([id, status(r), r.metadata[MetadataKey.Message]]).toEqual([
        id,
        Code.Unknown,
        '[unprintable value]',
      ]);
    }
    c.request(5, 'add', { a: 1, b: 2 });
    expect(await c.result(5)).toBe(3);
    expect(c.closes).toEqual([]);
  });

  it('a call failed by middleware before its handler ran is marked not run (:u = 1); one failed after it is not', async () => {
    const { server, port } = await startServer();
    server.use((ctx, next) => {
      if (ctx.metadata['x-refuse'] === 'before')
        throw new RpcError(Code.ResourceExhausted, 'rate limited', {
          metadata: { [MetadataKey.RetryAfter]: '5' },
        });
      if (ctx.metadata['x-refuse'] === 'async-before')
        return Promise.reject(new RpcError(Code.Unauthenticated, 'invalid credentials'));
      return next().then(() => {
        if (ctx.metadata['x-refuse'] === 'after') throw new RpcError(Code.Internal, 'after the handler');
      });
    });
    const c = await rawClient(port, cleanups);
    const ask = (id: number, methodName: string, refuse: string): void =>
      c.conn.send({
        type: FrameType.Request,
        codec: CodecId.Json,
        id,
        metadata: { [MetadataKey.Service]: 'Test', [MetadataKey.Method]: methodName, 'x-refuse': refuse },
        payload: new TextEncoder().encode('{"a":1,"b":2}'),
      });
    ask(1, 'add', 'before');
    ask(2, 'add', 'async-before');
    ask(3, 'add', 'after');
    ask(4, 'throwPlain', 'none');
    const answers = [];
    for (const id of [1, 2, 3, 4]) {
      const r = await c.response(id);
      answers.push([status(r), r.metadata[MetadataKey.NotRun]]);
    }
    expect(answers).toEqual([
      [Code.ResourceExhausted, '1'],
      [Code.Unauthenticated, '1'],
      [Code.Internal, undefined],
      [Code.Unknown, undefined],
    ]);
    expect((await c.response(1)).metadata[MetadataKey.RetryAfter]).toBe('5');
    expect(seen.calls).toBe(1); // only the call that failed after its handler ran `add`
  });

  it('a logger that throws loses its lines, nothing else: refusals and deadlines are answered, a reset connection releases its calls, close() ends', async () => {
    let lines = 0;
    const broken = (): never => {
      lines++;
      throw new Error('log sink closed');
    };
    const { server, port } = await startServer({ logger: { info: broken, warn: broken, error: broken } });
    const c = await rawClient(port, cleanups);
    c.request(1, 'nope');
    expect(status(await c.response(1))).toBe(Code.NotFound);
    c.request(2, 'hang', undefined, { [MetadataKey.Timeout]: '30' });
    expect(status(await c.response(2))).toBe(Code.DeadlineExceeded);
    c.request(3, 'throwPlain');
    expect(status(await c.response(3))).toBe(Code.Unknown);
    // A reset with a call running: the server logs "connection lost with calls running", then must release it.
    const socket = await parkedOnRawSocket(port);
    await waitFor(() => server.inFlight === 1, 3_000, 'handler running');
    socket.resetAndDestroy();
    await waitFor(() => server.inFlight === 0 && server.connections === 1, 3_000, 'the reset call released');
    expect(lines).toBeGreaterThanOrEqual(4);
    c.request(4, 'add', { a: 1, b: 2 });
    expect(await c.result(4)).toBe(3);
    await server.close({ graceMs: 200 });
  });

  it('an RpcError thrown without a message (plain JS) is answered with its code and an empty message', async () => {
    const { server, port } = await startServer();
    server.addService(
      {
        async bare(): Promise<never> {
          throw new (RpcError as unknown as new (code: Code) => RpcError)(Code.NotFound);
        },
      },
      { name: 'Bare' },
    );
    const c = await rawClient(port, cleanups);
    c.conn.send({
      type: FrameType.Request,
      codec: CodecId.Json,
      id: 1,
      metadata: { [MetadataKey.Service]: 'Bare', [MetadataKey.Method]: 'bare' },
    });
    const r = await c.response(1);
    expect(status(r)).toBe(Code.NotFound);
    expect(r.metadata[MetadataKey.Message]).toBe('');
  });
});

describe('server API', () => {
  it('createServer refuses timer and size options that are not numbers ≥ 0 (connections would fail on accept)', () => {
    expect(() => createServer({ idleTimeoutMs: Number.NaN })).toThrow(
      /readTimeoutMs must be a number of ms ≥ 0/,
    );
    expect(() => createServer({ heartbeatIntervalMs: -1 })).toThrow(/heartbeatIntervalMs must be a number/);
    expect(() => createServer({ idleTimeoutMs: Number.POSITIVE_INFINITY })).not.toThrow();
    expect(() => createServer({ maxPayload: Number.NaN })).toThrow(/createServer: maxPayload/);
    expect(() => createServer({ maxMetadata: -1 })).toThrow(/createServer: maxMetadata/);
  });

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

  it('consoleLogger writes an object met twice in full, cuts only real cycles, and writes bigints', async () => {
    const { consoleLogger } = await import('./index.js');
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const peer = { host: 'h' };
      consoleLogger.warn({ from: peer, to: peer, n: 10n }, 'shared');
      const cycle: Record<string, unknown> = { name: 'c' };
      cycle.self = cycle;
      consoleLogger.warn({ cycle }, 'cyclic');
      expect(spy.mock.calls[0]?.[0]).toBe(
        '[mini-rpc] warn shared {"from":{"host":"h"},"to":{"host":"h"},"n":"10"}',
      );
      expect(spy.mock.calls[1]?.[0]).toBe(
        '[mini-rpc] warn cyclic {"cycle":{"name":"c","self":"[Circular]"}}',
      );
    } finally {
      spy.mockRestore();
    }
  });
});
