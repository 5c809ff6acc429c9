import type { Codec } from '@mini-rpc/codec';
import { jsonCodec, msgpackCodec } from '@mini-rpc/codec';
import type { CallRequest, ClientInterceptor, Frame } from '@mini-rpc/protocol';
import { Code, CodecId, FrameType, MetadataKey, RpcError } from '@mini-rpc/protocol';
import type { Connection } from '@mini-rpc/transport';
import { createConnection, listen } from '@mini-rpc/transport';
import { describe, expect, it } from 'vitest';
import { rejection, useCleanups, waitFor } from '../../../tooling/testing/harness.js';
import { silentServer } from '../test/silent-server.js';
import type { ClientOptions } from './index.js';
import { createClient, isUnprocessed, parseAddress } from './index.js';

const cleanups = useCleanups();

const QUIET = { heartbeatIntervalMs: 0, readTimeoutMs: 0, writeTimeoutMs: 0 };
const codecs: Record<number, Codec> = { [CodecId.Json]: jsonCodec, [CodecId.MessagePack]: msgpackCodec };

/**
 * A tiny frame-speaking server (transport's listen() + createConnection()). Methods: `echo` answers with
 * the arguments, `meta` with the request metadata, `fail` with an error response, anything else is held
 * until the test answers it.
 */
async function fakeServer() {
  const conns: Connection[] = [];
  const received: Frame[] = [];
  const held: { frame: Frame; conn: Connection }[] = [];
  const listener = await listen({
    onSocket: (s) => {
      const conn = createConnection(
        s,
        {
          onFrame: (f, c) => {
            const frame = { ...f, payload: f.payload.slice() };
            received.push(frame);
            if (frame.type !== FrameType.Request) return;
            const method = frame.metadata[MetadataKey.Method];
            const codec = codecs[frame.codec] as Codec;
            if (method === 'echo') {
              c.send({ type: FrameType.Response, codec: frame.codec, id: frame.id, payload: frame.payload });
            } else if (method === 'meta') {
              const payload = codec.encode({ ...frame.metadata });
              c.send({ type: FrameType.Response, codec: frame.codec, id: frame.id, payload });
            } else if (method === 'fail') {
              c.send({
                type: FrameType.Response,
                codec: frame.codec,
                id: frame.id,
                metadata: {
                  [MetadataKey.Status]: String(Code.ResourceExhausted),
                  [MetadataKey.Message]: 'slow down',
                  [MetadataKey.Details]: '{"limit":5}',
                  [MetadataKey.RetryAfter]: '250',
                  [MetadataKey.NotRun]: '1',
                  'x-server': 'a',
                },
              });
            } else held.push({ frame, conn: c });
          },
          // Like a real server: a client's half-close does not end this side while calls are held.
          onEnd: () => {},
        },
        QUIET,
      );
      conns.push(conn);
    },
  });
  cleanups.push(() => {
    for (const c of conns) c.close();
    return listener.close();
  });
  const requests = () => received.filter((f) => f.type === FrameType.Request);
  return {
    address: `127.0.0.1:${listener.port}`,
    conns,
    received,
    held,
    requests,
    answer(frame: Frame, value: unknown): void {
      const h = held.find((x) => x.frame === frame);
      h?.conn.send({
        type: FrameType.Response,
        codec: frame.codec,
        id: frame.id,
        payload: (codecs[frame.codec] as Codec).encode(value),
      });
    },
  };
}

function client(options: ClientOptions) {
  const c = createClient({ ...QUIET, ...options });
  cleanups.push(() => c.close());
  return c;
}

const failure = (p: Promise<unknown>) => rejection<RpcError>(p);

describe('parseAddress', () => {
  it('reads host:port, [v6]:port, and passes objects through', () => {
    expect(parseAddress('127.0.0.1:4000')).toEqual({ host: '127.0.0.1', port: 4000 });
    expect(parseAddress('localhost:80')).toEqual({ host: 'localhost', port: 80 });
    expect(parseAddress('[::1]:4000')).toEqual({ host: '::1', port: 4000 });
    const obj = { host: 'h', port: 1 };
    expect(parseAddress(obj)).toBe(obj);
  });

  it.each(['127.0.0.1', '127.0.0.1:', ':4000', 'host:port', 'a:1:x', ''])(
    'refuses %j with TypeError',
    (a) => {
      expect(() => parseAddress(a)).toThrow(TypeError);
    },
  );
});

describe('createClient', () => {
  it('needs an address or a registry', () => {
    expect(() => createClient({})).toThrow('createClient: give an address or a registry');
  });

  it('calls with MessagePack by default; a per-call codec overrides it; the response is decoded with it', async () => {
    const server = await fakeServer();
    const c = client({ address: server.address });
    expect(await c.call('S', 'echo', { a: [1, 'two'] })).toEqual({ a: [1, 'two'] });
    expect(await c.call('S', 'echo', { b: true }, { codec: jsonCodec })).toEqual({ b: true });
    expect(server.requests().map((f) => f.codec)).toEqual([CodecId.MessagePack, CodecId.Json]);
    const jsonClient = client({ address: server.address, codec: jsonCodec });
    expect(await jsonClient.call('S', 'echo', 'x')).toBe('x');
    expect(server.requests()[2]?.codec).toBe(CodecId.Json);
  });

  it('sends :s, :m, :t (the time the caller still waits) and the caller metadata', async () => {
    const server = await fakeServer();
    const c = client({ address: server.address, timeoutMs: 5_000 });
    const md = (await c.call('Svc', 'meta', undefined, {
      metadata: { authorization: 'Bearer t' },
    })) as Record<string, string>;
    expect(md[MetadataKey.Service]).toBe('Svc');
    expect(md[MetadataKey.Method]).toBe('meta');
    expect(md.authorization).toBe('Bearer t');
    expect(Number(md[MetadataKey.Timeout])).toBeGreaterThan(4_900);
    expect(Number(md[MetadataKey.Timeout])).toBeLessThanOrEqual(5_000);
    const soon = (await c.call('Svc', 'meta', undefined, { deadline: Date.now() + 800 })) as Record<
      string,
      string
    >;
    expect(Number(soon[MetadataKey.Timeout])).toBeLessThanOrEqual(800);
    expect(Number(soon[MetadataKey.Timeout])).toBeGreaterThan(600);
    const short = (await c.call('Svc', 'meta', undefined, {
      timeoutMs: 300,
      deadline: Date.now() + 60_000,
    })) as Record<string, string>;
    expect(Number(short[MetadataKey.Timeout])).toBeLessThanOrEqual(300);
  });

  it('a call without a deadline (timeoutMs: Infinity) is sent without breaking the connection', async () => {
    const server = await fakeServer();
    const c = client({ address: server.address });
    const other = c.call('S', 'hold', 1).catch((e: unknown) => e);
    await waitFor(() => server.held.length === 1, 3_000, 'the held call');
    const md = (await c.call('S', 'meta', undefined, { timeoutMs: Number.POSITIVE_INFINITY })) as Record<
      string,
      string
    >;
    // docs/protocol.md §4.2: `:t` is decimal digits, absent = no deadline.
    expect(md[MetadataKey.Timeout] === undefined || /^\d+$/.test(md[MetadataKey.Timeout] as string)).toBe(
      true,
    );
    server.answer(server.held[0]?.frame as Frame, 'still fine');
    expect(await other).toBe('still fine');
  });

  it('request ids are unique on a connection while in flight', async () => {
    const server = await fakeServer();
    const c = client({ address: server.address });
    const calls = Array.from({ length: 200 }, (_, i) => c.call('S', 'hold', i));
    await waitFor(() => server.held.length === 200, 3_000, '200 held calls');
    const ids = server.held.map((h) => h.frame.id);
    expect(new Set(ids).size).toBe(200);
    expect(ids.every((id) => Number.isInteger(id) && id >= 1)).toBe(true);
    for (const h of [...server.held].reverse()) server.answer(h.frame, msgpackCodec.decode(h.frame.payload));
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(c.stats()).toMatchObject({ created: 1, active: 0, idle: 1 });
  });

  it('an error response rejects with code, message, details, the retry hint and user metadata', async () => {
    const server = await fakeServer();
    const c = client({ address: server.address });
    const err = await failure(c.call('S', 'fail'));
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toBe('slow down');
    expect(err.details).toEqual({ limit: 5 });
    expect(err.metadata).toEqual({ [MetadataKey.RetryAfter]: '250', 'x-server': 'a' });
    expect(isUnprocessed(err)).toBe(true);
  });

  it('refuses reserved metadata keys before sending anything', async () => {
    const server = await fakeServer();
    const c = client({ address: server.address });
    const err = await failure(c.call('S', 'echo', 1, { metadata: { [MetadataKey.Timeout]: '1' } }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe("metadata key ':t' is reserved");
    expect(server.received).toEqual([]);
  });

  it('a metadata key over 65,535 bytes (UTF-8) or a value that is not a string fails only its own call, with InvalidArgument', async () => {
    // Such a key used to reach the transport, which failed the whole batch and closed the connection; the
    // call itself then hung forever (and calls of others on that connection failed).
    const server = await fakeServer();
    const c = client({ address: server.address });
    const bystander = c.call('S', 'hold', 1);
    await waitFor(() => server.held.length === 1, 3_000, 'the held call');
    const long = await failure(c.call('S', 'echo', 1, { metadata: { ['k'.repeat(90_000)]: 'v' } }));
    expect(long.code).toBe(Code.InvalidArgument);
    expect(long.rawMessage).toBe('metadata key of 90000 bytes exceeds 65535 (UTF-8)');
    // 32,768 UTF-16 units, but 65,536 bytes.
    const wide = await failure(c.call('S', 'echo', 1, { metadata: { ['é'.repeat(32_768)]: 'v' } }));
    expect(wide.rawMessage).toBe('metadata key of 65536 bytes exceeds 65535 (UTF-8)');
    const number = await failure(c.call('S', 'echo', 1, { metadata: { n: 1 as unknown as string } }));
    expect(number.code).toBe(Code.InvalidArgument);
    expect(number.rawMessage).toBe("metadata value of 'n' is a number, not a string");
    expect(server.requests()).toHaveLength(1);
    // A long key that fits is measured and sent.
    const key = 'k'.repeat(30_000);
    expect(
      ((await c.call('S', 'meta', undefined, { metadata: { [key]: 'v' } })) as Record<string, string>)[key],
    ).toBe('v');
    server.answer(server.held[0]?.frame as Frame, 'unharmed');
    expect(await bystander).toBe('unharmed');
    expect(c.stats().created).toBe(1);
  });

  it('a NaN timeoutMs or deadline fails with InvalidArgument, a negative timeoutMs with DeadlineExceeded, before sending', async () => {
    const server = await fakeServer();
    const c = client({ address: server.address });
    for (const options of [{ timeoutMs: Number.NaN }, { deadline: Number.NaN }]) {
      expect((await failure(c.call('S', 'echo', 1, options))).code).toBe(Code.InvalidArgument);
    }
    // A budget already spent (timeoutMs = deadline - now, past it) is a passed deadline, not a caller error.
    expect((await failure(c.call('S', 'echo', 1, { timeoutMs: -3 }))).code).toBe(Code.DeadlineExceeded);
    expect(server.received).toEqual([]);
  });

  it('a call waiting for a connect leaves at its deadline (DeadlineExceeded) or its abort (Cancelled), alone', async () => {
    // The deadline used to be ignored until the connect timeout, and the first caller's signal aborted the
    // shared connect of every caller.
    const address = `127.0.0.1:${await silentServer(cleanups)}`;
    const c = client({ address, tls: { rejectUnauthorized: false }, connectTimeoutMs: 10_000 });
    const controller = new AbortController();
    const t0 = Date.now();
    const aborted = failure(c.call('S', 'echo', 1, { signal: controller.signal }));
    const short = failure(c.call('S', 'echo', 2, { timeoutMs: 100 }));
    const long = failure(c.call('S', 'echo', 3, { timeoutMs: 400 }));
    controller.abort();
    expect((await aborted).code).toBe(Code.Cancelled);
    const err = await short;
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect((await long).code).toBe(Code.DeadlineExceeded);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(395);
  });

  it('arguments that do not encode fail with InvalidArgument before sending', async () => {
    const server = await fakeServer();
    const c = client({ address: server.address, codec: jsonCodec });
    const err = await failure(c.call('S', 'echo', { n: 1n }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toMatch(/^arguments do not encode/);
    expect(server.requests()).toEqual([]);
  });

  it('at its deadline a call fails with DeadlineExceeded and the server gets a Cancel for it', async () => {
    const server = await fakeServer();
    const c = client({ address: server.address });
    const t0 = Date.now();
    const err = await failure(c.call('S', 'hold', 1, { timeoutMs: 100 }));
    const elapsed = Date.now() - t0;
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(elapsed).toBeGreaterThanOrEqual(95);
    expect(elapsed).toBeLessThan(1_000);
    const id = server.requests()[0]?.id;
    await waitFor(() => server.received.some((f) => f.type === FrameType.Cancel), 3_000, 'Cancel');
    expect(server.received.find((f) => f.type === FrameType.Cancel)?.id).toBe(id);
    // A deadline already past fails at once, without sending.
    const late = await failure(c.call('S', 'echo', 1, { deadline: Date.now() - 1 }));
    expect(late.code).toBe(Code.DeadlineExceeded);
    expect(server.requests()).toHaveLength(1);
  });

  it('aborting a call rejects it with Cancelled and sends Cancel; an aborted signal sends nothing', async () => {
    const server = await fakeServer();
    const c = client({ address: server.address });
    const controller = new AbortController();
    const pending = failure(c.call('S', 'hold', 1, { signal: controller.signal }));
    await waitFor(() => server.held.length === 1, 3_000, 'the request');
    controller.abort();
    expect((await pending).code).toBe(Code.Cancelled);
    await waitFor(() => server.received.some((f) => f.type === FrameType.Cancel), 3_000, 'Cancel');
    const before = server.received.length;
    const err = await failure(c.call('S', 'echo', 1, { signal: AbortSignal.abort() }));
    expect(err.code).toBe(Code.Cancelled);
    expect(server.received).toHaveLength(before);
  });

  it('GoAway: calls above its id fail as unprocessed, accepted ones are answered, new calls use a new connection', async () => {
    const server = await fakeServer();
    const c = client({ address: server.address });
    const calls = [1, 2, 3].map((v) =>
      c.call('S', 'hold', v).then(
        (value) => ({ value }),
        (error: RpcError) => ({ error }),
      ),
    );
    await waitFor(() => server.held.length === 3, 3_000, 'three held calls');
    const [first, second, third] = server.held.map((h) => h.frame) as [Frame, Frame, Frame];
    server.conns[0]?.goAway(Code.Unavailable, 'server shutting down', second.id);
    const thirdOutcome = (await calls[2]) as { error: RpcError };
    expect(thirdOutcome.error.code).toBe(Code.Unavailable);
    expect(isUnprocessed(thirdOutcome.error)).toBe(true);
    expect(third.id).toBeGreaterThan(second.id);
    expect(await c.call('S', 'echo', 'fresh')).toBe('fresh');
    expect(server.conns).toHaveLength(2);
    server.answer(first, 'one');
    server.answer(second, 'two');
    expect(await calls[0]).toEqual({ value: 'one' });
    expect(await calls[1]).toEqual({ value: 'two' });
  });

  it('close(): pending calls fail with Unavailable; later calls too', async () => {
    const server = await fakeServer();
    const c = client({ address: server.address });
    const pending = failure(c.call('S', 'hold', 1));
    await waitFor(() => server.held.length === 1, 3_000, 'held');
    await c.close();
    const err = await pending;
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe('client closed');
    expect((await failure(c.call('S', 'echo', 1))).code).toBe(Code.Unavailable);
  });

  it('stats() counts connections created and reused', async () => {
    const server = await fakeServer();
    const c = client({ address: server.address });
    for (let i = 0; i < 4; i++) await c.call('S', 'echo', i);
    expect(c.stats()).toEqual({ created: 1, reused: 3, active: 0, idle: 1, reuseRatio: 3 / 4 });
  });
});

describe('service proxy', () => {
  it('is not a thenable: awaiting it calls nothing', async () => {
    const server = await fakeServer();
    const c = client({ address: server.address });
    const proxy = c.service<{ echo(x: number): number }>('S');
    expect((proxy as unknown as { then?: unknown }).then).toBeUndefined();
    const awaited = await proxy;
    expect(awaited).toBe(proxy);
    expect((proxy as unknown as Record<symbol, unknown>)[Symbol.iterator]).toBeUndefined();
    expect(server.received).toEqual([]);
  });

  it('each method is one cached function that calls service.method', async () => {
    const server = await fakeServer();
    const c = client({ address: server.address });
    const proxy = c.service<{ echo(x: number): number }>('Arith');
    expect(proxy.echo).toBe(proxy.echo);
    expect(await proxy.echo(41)).toBe(41);
    expect(server.requests()[0]?.metadata[MetadataKey.Service]).toBe('Arith');
    expect(server.requests()[0]?.metadata[MetadataKey.Method]).toBe('echo');
  });

  it('defaults apply to every call; per-call options win', async () => {
    const server = await fakeServer();
    const c = client({ address: server.address });
    const proxy = c.service<{ meta(): Record<string, string> }>('S', {
      metadata: { tenant: 'a' },
      codec: jsonCodec,
    });
    expect((await proxy.meta()).tenant).toBe('a');
    expect((await proxy.meta(undefined, { metadata: { tenant: 'b' } })).tenant).toBe('b');
    expect(server.requests().map((f) => f.codec)).toEqual([CodecId.Json, CodecId.Json]);
  });
});

describe('interceptors', () => {
  it('run in order, first = outermost, and can change metadata and arguments', async () => {
    const server = await fakeServer();
    const log: string[] = [];
    const trace =
      (name: string): ClientInterceptor =>
      (next) =>
      async (call: CallRequest) => {
        log.push(`${name} in`);
        call.metadata[`x-${name}`] = name;
        try {
          return await next(call);
        } finally {
          log.push(`${name} out`);
        }
      };
    const rewrite: ClientInterceptor = (next) => (call) => {
      call.args = { rewritten: call.args };
      return next(call);
    };
    const c = client({ address: server.address, interceptors: [trace('a'), trace('b'), rewrite] });
    expect(await c.call('S', 'echo', 1)).toEqual({ rewritten: 1 });
    expect(log).toEqual(['a in', 'b in', 'b out', 'a out']);
    const md = (await c.call('S', 'meta')) as Record<string, string>;
    expect([md['x-a'], md['x-b']]).toEqual(['a', 'b']);
  });

  it('see the call: service, method, deadline, idempotency; can answer without the network', async () => {
    const server = await fakeServer();
    const seen: CallRequest[] = [];
    const cache: ClientInterceptor = (next) => (call) => {
      seen.push({ ...call });
      return call.method === 'cached' ? Promise.resolve('from cache') : next(call);
    };
    const c = client({
      address: server.address,
      interceptors: [cache],
      idempotent: ['S.cached'],
      timeoutMs: 1_000,
    });
    const t0 = Date.now();
    expect(await c.call('S', 'cached')).toBe('from cache');
    expect(server.received).toEqual([]);
    expect(seen[0]).toMatchObject({ service: 'S', method: 'cached', idempotent: true });
    expect(seen[0]?.deadline).toBeGreaterThanOrEqual(t0 + 1_000);
    await c.call('S', 'echo', 1, { idempotent: true });
    expect(seen[1]?.idempotent).toBe(true);
  });

  it('a per-call codec goes through the interceptors too', async () => {
    const server = await fakeServer();
    let n = 0;
    const count: ClientInterceptor = (next) => (call) => {
      n++;
      return next(call);
    };
    const c = client({ address: server.address, interceptors: [count] });
    expect(await c.call('S', 'echo', 2, { codec: jsonCodec })).toBe(2);
    expect(n).toBe(1);
  });
});
