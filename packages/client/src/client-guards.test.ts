import { getEventListeners } from 'node:events';
import { jsonCodec } from '@mini-rpc/codec';
import type { Balancer, Breaker, ClientInterceptor, Limiter, RetryPolicy } from '@mini-rpc/protocol';
import { Code, CodecId, FrameType, MetadataKey, RpcError } from '@mini-rpc/protocol';
import { createConnection, listen } from '@mini-rpc/transport';
import { describe, expect, it } from 'vitest';
import { rejection, useCleanups, waitFor } from '../../../tooling/testing/harness.js';
import { closedPort } from '../../../tooling/testing/ports.js';
import { echoServer } from '../test/echo-server.js';
import { manualRegistry } from '../test/manual-registry.js';
import { clientMaker, failure, processWarnings, QUIET_CLIENT } from '../test/support.js';
import { createClient } from './index.js';

const cleanups = useCleanups();

const client = clientMaker(cleanups);

/** Process warnings of `name` emitted from now until the test ends. */
const warnings = (name: string): Error[] => processWarnings(cleanups, name);

describe('interceptors that break the rules', () => {
  it('one that throws synchronously rejects the call: call(), go() and the proxy return, never throw', async () => {
    const server = await echoServer(cleanups);
    const bug = new Error('interceptor bug');
    const throwing: ClientInterceptor = () => () => {
      throw bug;
    };
    const c = client({ address: server.address, interceptors: [throwing] });
    let call: Promise<unknown> | undefined;
    expect(() => {
      call = c.call('S', 'echo', 1);
    }).not.toThrow();
    expect(await rejection(call as Promise<unknown>)).toBe(bug);
    expect(await rejection(c.service<{ echo(n: number): number }>('S').echo(2))).toBe(bug);
    const started = c.go('S', 'echo', 3);
    await started.done;
    expect(started.error?.rawMessage).toBe('interceptor bug');
    // The same with a per-call codec, which builds its own chain.
    expect(await rejection(c.call('S', 'echo', 4, { codec: jsonCodec }))).toBe(bug);
    expect(server.requests).toHaveLength(0);
  });

  it('one that returns a plain value (plain JS) answers the call with it', async () => {
    const server = await echoServer(cleanups);
    const plain = (() => () => 'cached') as unknown as ClientInterceptor;
    const c = client({ address: server.address, interceptors: [plain] });
    const call = c.go('S', 'echo', 1);
    expect((await call.done).result).toBe('cached');
  });

  it('metadata an interceptor adds is checked before sending: a reserved key or a non-string value fails with InvalidArgument, nothing sent', async () => {
    const server = await echoServer(cleanups);
    const { registry, deliver } = manualRegistry();
    const redirect: ClientInterceptor = (next) => (call) => {
      // `:s` would send the call to another service.
      if (call.method === 'reserved') call.metadata[MetadataKey.Service] = 'Other';
      if (call.method === 'numeric') (call.metadata as Record<string, unknown>)['x-n'] = 7;
      return next(call);
    };
    const direct = client({ address: server.address, interceptors: [redirect] });
    const discovered = client({ registry, interceptors: [redirect] });
    const warm = discovered.call('S', 'echo', 0);
    deliver([server.instance('X')]);
    expect(await warm).toBe(0);
    for (const c of [direct, discovered]) {
      const reserved = await failure(c.call('S', 'reserved', 1, { timeoutMs: 2_000 }));
      expect([reserved.code, reserved.rawMessage]).toEqual([
        Code.InvalidArgument,
        "metadata key ':s' is reserved",
      ]);
      const notString = await failure(c.call('S', 'numeric', 2, { timeoutMs: 2_000 }));
      expect([notString.code, notString.rawMessage]).toEqual([
        Code.InvalidArgument,
        "metadata value of 'x-n' is a number, not a string",
      ]);
    }
    expect(server.requests).toHaveLength(1); // the warm-up call only
  });

  it('a service or method name that is not a non-empty string fails with InvalidArgument (never a throw); nothing is sent', async () => {
    const server = await echoServer(cleanups);
    const pass: ClientInterceptor = (next) => (call) => next(call);
    const fast = client({ address: server.address });
    const intercepted = client({ address: server.address, interceptors: [pass] });
    for (const c of [fast, intercepted]) {
      for (const [service, method] of [
        [7, 'echo'],
        ['S', undefined],
        ['', 'echo'],
        ['S', ''],
      ] as [string, string][]) {
        let call: Promise<unknown> | undefined;
        expect(() => {
          call = c.call(service, method, 1);
        }).not.toThrow();
        const err = await failure(call as Promise<unknown>);
        expect(err.code).toBe(Code.InvalidArgument);
        expect(err.rawMessage).toMatch(/^service and method must be non-empty strings, got /);
      }
      expect(await c.call('S', 'echo', 1)).toBe(1); // the connection is fine
    }
    expect(server.requests).toHaveLength(2);
  });
});

describe('interceptors that wait on something of their own', () => {
  /** An interceptor that waits for `gate` (never released unless the test does) before it calls `next`. */
  function gated() {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const interceptor: ClientInterceptor = (next) => async (call) => {
      await gate;
      return next(call);
    };
    return { interceptor, open };
  }

  it('one that never calls next: the call fails with DeadlineExceeded at its deadline (one sweep late at most), nothing sent', async () => {
    const server = await echoServer(cleanups);
    const { interceptor, open } = gated();
    const c = client({ address: server.address, interceptors: [interceptor] });
    const started = Date.now();
    const err = await failure(c.call('S', 'echo', 1, { timeoutMs: 60 }));
    const took = Date.now() - started;
    expect([err.code, err.rawMessage]).toEqual([
      Code.DeadlineExceeded,
      'deadline exceeded before the interceptors answered',
    ]);
    expect(took).toBeGreaterThanOrEqual(59);
    expect(took).toBeLessThan(1_000);
    // A next() after the end sends nothing: the terminal step sees the deadline passed.
    open();
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(await c.call('S', 'echo', 2)).toBe(2);
    expect(server.requests.map((f) => f.metadata[MetadataKey.Method])).toEqual(['echo']);
  });

  it("the caller's abort and close() end such a call too (Cancelled with the reason; Unavailable), and the abort listener goes", async () => {
    const server = await echoServer(cleanups);
    const { interceptor } = gated();
    const c = client({ address: server.address, interceptors: [interceptor], timeoutMs: 60_000 });
    const controller = new AbortController();
    const aborted = failure(c.call('S', 'echo', 1, { signal: controller.signal }));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort(new Error('user left'));
    const cancelled = await aborted;
    expect([cancelled.code, cancelled.rawMessage]).toEqual([Code.Cancelled, 'user left']);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    // Already aborted before the call: the same at once.
    const early = await failure(c.call('S', 'echo', 2, { signal: AbortSignal.abort() }));
    expect(early.code).toBe(Code.Cancelled);
    // go()'s cancel() goes through its signal.
    const started = c.go('S', 'echo', 3);
    started.cancel('no longer needed');
    expect((await started.done).error?.rawMessage).toBe('no longer needed');
    const waiting = failure(c.call('S', 'echo', 4));
    const withCodec = failure(c.call('S', 'echo', 5, { codec: jsonCodec }));
    await c.close();
    for (const err of await Promise.all([waiting, withCodec])) {
      expect([err.code, err.rawMessage]).toEqual([Code.Unavailable, 'client closed']);
    }
    expect(server.requests).toHaveLength(0);
  });

  it("what the chain answers in the turn of the deadline wins: a fallback for the response's own DeadlineExceeded is delivered", async () => {
    const server = await echoServer(cleanups);
    const fallback: ClientInterceptor = (next) => async (call) => {
      try {
        return await next(call);
      } catch (err) {
        if (err instanceof RpcError && err.code === Code.DeadlineExceeded)
          return `fallback: ${err.rawMessage}`;
        throw err;
      }
    };
    const c = client({ address: server.address, interceptors: [fallback] });
    // `hold` is never answered: the client's own wait for the response ends at the deadline.
    expect(await c.call('S', 'hold', 1, { timeoutMs: 40 })).toBe(
      'fallback: deadline exceeded waiting for the response',
    );
    // Without a fallback the caller sees the response's own error, not the bound's.
    const plain = client({ address: server.address, interceptors: [(next) => (call) => next(call)] });
    const err = await failure(plain.call('S', 'hold', 2, { timeoutMs: 40 }));
    expect(err.rawMessage).toBe('deadline exceeded waiting for the response');
  });
});

describe('responses', () => {
  it('a success in another codec than the request fails with Internal instead of decoding to a wrong value', async () => {
    // A server that breaks docs/protocol.md §3.1: it answers every call with the JSON bytes of 3.
    const listener = await listen({
      onSocket: (socket) => {
        const conn = createConnection(
          socket,
          {
            onFrame: (f, c) => {
              if (f.type === FrameType.Request)
                c.send({
                  type: FrameType.Response,
                  codec: CodecId.Json,
                  id: f.id,
                  payload: Buffer.from('3'),
                });
            },
          },
          QUIET_CLIENT,
        );
        cleanups.push(() => conn.close());
      },
    });
    cleanups.push(() => listener.close());
    const c = client({ address: `127.0.0.1:${listener.port}` }); // MessagePack, where 0x33 is 51
    const err = await failure(c.call('S', 'three'));
    expect([err.code, err.rawMessage]).toEqual([
      Code.Internal,
      'response in codec 0, the request was sent in codec 2',
    ]);
    expect(await c.call('S', 'three', undefined, { codec: jsonCodec })).toBe(3);
  });
});

describe('a service proxy', () => {
  it('calls nothing when JavaScript reads it by itself: JSON.stringify, string coercion, await', async () => {
    const server = await echoServer(cleanups);
    const c = client({ address: server.address, timeoutMs: 100 });
    const proxy = c.service<{ echo(n: number): number }>('S');
    // Each used to send a call ('toJSON', 'toString', 'valueOf') whose failure nobody awaited: an
    // unhandled rejection, which ends a Node process.
    expect(JSON.stringify({ proxy })).toBe('{"proxy":{}}');
    expect(() => `${proxy}`).toThrow(TypeError);
    expect(await proxy).toBe(proxy);
    expect(await proxy.echo(1)).toBe(1);
    expect(server.requests.map((f) => f.metadata[MetadataKey.Method])).toEqual(['echo']);
  });
});

describe('a balancer hook or a bulkhead release that throws', () => {
  it('leaks no bulkhead slot or breaker probe, and the call keeps its own outcome; the error becomes a process warning', async () => {
    const server = await echoServer(cleanups);
    const seen = warnings('MiniRpcListenerWarning');
    const { registry, deliver } = manualRegistry();
    // One slot, no queue: a slot that leaked refuses every later call.
    let busy = false;
    const limiter: Limiter = {
      acquire: () => {
        if (busy) throw new RpcError(Code.ResourceExhausted, 'bulkhead full');
        busy = true;
        return () => {
          busy = false;
        };
      },
    };
    const counts = { admitted: 0, recorded: 0 };
    const breaker: Breaker = {
      state: 'closed',
      allowRequest: () => {
        counts.admitted++;
        return true;
      },
      recordSuccess: () => {
        counts.recorded++;
      },
      recordFailure: () => {
        counts.recorded++;
      },
    };
    let calls = 0;
    const balancer: Balancer = {
      name: 'buggy',
      pick: (list) => list[0] as (typeof list)[number],
      onStart: () => {
        if (calls++ === 0) throw new Error('onStart bug');
      },
      onEnd: () => {
        if (calls === 2) throw new Error('onEnd bug');
      },
    };
    const c = client({ registry, balancer, bulkhead: limiter, breakers: () => breaker });
    const first = c.call('S', 'echo', 1);
    deliver([server.instance('X')]);
    expect(await first).toBe(1); // onStart threw
    expect(await c.call('S', 'echo', 2)).toBe(2); // onEnd threw
    expect(await c.call('S', 'echo', 3)).toBe(3);
    expect(busy).toBe(false);
    expect(counts).toEqual({ admitted: 3, recorded: 3 });
    await waitFor(() => seen.length === 2, 2_000, 'two warnings');
    expect(seen.map((w) => w.message)).toEqual([
      'mini-rpc client: a listener threw: onStart bug',
      'mini-rpc client: a listener threw: onEnd bug',
    ]);
  });
});

describe('a retry policy', () => {
  it('whose nextDelay returns NaN gives up: no retry every millisecond until the deadline', async () => {
    let asked = 0;
    const retry: RetryPolicy = {
      onCall: () => {},
      nextDelay: () => {
        asked++;
        return Number.NaN;
      },
    };
    const c = client({ address: `127.0.0.1:${await closedPort()}`, retry });
    const err = await failure(c.call('S', 'echo', 1, { timeoutMs: 300 }));
    expect(err.code).toBe(Code.Unavailable); // the connect's own error, not DeadlineExceeded
    expect(asked).toBe(1);
  });
});

describe('close()', () => {
  it('ends a wait for a bulkhead slot of a call without a deadline (timeoutMs: Infinity)', async () => {
    const server = await echoServer(cleanups);
    // The only slot is held outside this client, so nothing the client closes frees it.
    const queue: AbortSignal[] = [];
    const limiter: Limiter = {
      acquire: (signal) =>
        new Promise((_resolve, reject) => {
          if (signal !== undefined) queue.push(signal);
          signal?.addEventListener('abort', () => reject(signal.reason));
        }),
    };
    const c = client({ address: server.address, bulkhead: limiter });
    const queued = failure(c.call('S', 'echo', 1, { timeoutMs: Number.POSITIVE_INFINITY }));
    await waitFor(() => queue.length === 1, 2_000, 'the queued call');
    await c.close();
    const err = await queued;
    expect([err.code, err.rawMessage]).toEqual([Code.Unavailable, 'client closed']);
  });

  it.each([
    [
      'throws',
      () => {
        throw new Error('stop bug');
      },
    ],
    ['rejects', () => Promise.reject(new Error('stop failed'))],
  ])('fails pending calls and closes connections even when the watch stop() %s', async (_what, stop) => {
    const server = await echoServer(cleanups);
    const { registry, deliver } = manualRegistry({ stop });
    const c = createClient({ ...QUIET_CLIENT, registry });
    const first = c.call('S', 'echo', 1);
    deliver([server.instance('X')]);
    expect(await first).toBe(1);
    const pending = failure(c.call('S', 'hold', 2, { timeoutMs: 5_000 }));
    await waitFor(() => server.requests.length === 2, 2_000, 'the held call');
    await c.close();
    expect((await pending).rawMessage).toBe('client closed');
    await waitFor(() => server.closed === 1, 2_000, 'the connection to close');
  });

  it('does not wait for a slow watch stop() to fail calls and close connections; a second close() waits for the first', async () => {
    const server = await echoServer(cleanups);
    let stopped!: () => void;
    const { registry, deliver } = manualRegistry({
      stop: () =>
        new Promise<void>((resolve) => {
          stopped = resolve;
        }),
    });
    const c = createClient({ ...QUIET_CLIENT, registry });
    const first = c.call('S', 'echo', 1);
    deliver([server.instance('X')]);
    expect(await first).toBe(1);
    const pending = failure(c.call('S', 'hold', 2, { timeoutMs: 5_000 }));
    await waitFor(() => server.requests.length === 2, 2_000, 'the held call');
    let closes = 0;
    const firstClose = c.close().then(() => closes++);
    const secondClose = c.close().then(() => closes++);
    expect((await pending).rawMessage).toBe('client closed');
    await waitFor(() => server.closed === 1, 2_000, 'the connection to close');
    await new Promise((resolve) => setImmediate(resolve));
    expect(closes).toBe(0); // both wait for the watch to stop
    stopped();
    await Promise.all([firstClose, secondClose]);
    expect(closes).toBe(2);
  });
});
