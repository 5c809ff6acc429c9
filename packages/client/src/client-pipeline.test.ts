import type { Balancer, Breaker, Frame, Limiter, RetryPolicy, ServiceInstance } from '@mini-rpc/protocol';
import { Code, FrameType, MetadataKey, RpcError } from '@mini-rpc/protocol';
import { describe, expect, it, vi } from 'vitest';
import { rejection, useCleanups, waitFor } from '../../../tooling/testing/harness.js';
import { frameServer } from '../test/echo-server.js';
import { manualRegistry } from '../test/manual-registry.js';
import type { ClientOptions } from './index.js';
import { createClient } from './index.js';

const cleanups = useCleanups();

const QUIET = { heartbeatIntervalMs: 0, readTimeoutMs: 0, writeTimeoutMs: 0 };

/**
 * A {@link frameServer}: `echo` answers with the arguments, `boom` with an Internal error, `busy` with
 * "Unavailable, not run" the first time and as `echo` after; anything else is held.
 */
async function pipelineServer() {
  const held: Frame[] = [];
  let requests = 0;
  const server = await frameServer(cleanups, (f, c) => {
    requests++;
    const method = f.metadata[MetadataKey.Method];
    const fail = (code: Code, message: string, notRun: boolean) =>
      c.send({
        type: FrameType.Response,
        codec: f.codec,
        id: f.id,
        metadata: {
          [MetadataKey.Status]: String(code),
          [MetadataKey.Message]: message,
          ...(notRun ? { [MetadataKey.NotRun]: '1' } : {}),
        },
      });
    if (method === 'boom') fail(Code.Internal, 'boom', false);
    else if (method === 'busy' && requests === 1) fail(Code.Unavailable, 'busy', true);
    else if (method === 'echo' || method === 'busy')
      c.send({ type: FrameType.Response, codec: f.codec, id: f.id, payload: f.payload.slice() });
    else held.push(f);
  });
  return {
    address: server.address,
    instance: server.instance(`S@${server.address}`),
    held,
    get sockets() {
      return server.sockets;
    },
    get requests() {
      return requests;
    },
  };
}

function client(options: ClientOptions) {
  const c = createClient({ ...QUIET, ...options });
  cleanups.push(() => c.close());
  return c;
}

const failure = (p: Promise<unknown>) => rejection<RpcError>(p);

/** A one-slot limiter with a queue, that records the signals it was given. */
function oneSlot() {
  const queue: { resolve: (release: () => void) => void }[] = [];
  const signals: (AbortSignal | undefined)[] = [];
  let busy = false;
  const release = (): void => {
    const next = queue.shift();
    if (next === undefined) busy = false;
    else next.resolve(release);
  };
  const limiter: Limiter = {
    acquire(signal) {
      signals.push(signal);
      if (!busy) {
        busy = true;
        return release;
      }
      return new Promise((resolve, reject) => {
        const waiter = { resolve };
        queue.push(waiter);
        signal?.addEventListener('abort', () => {
          queue.splice(queue.indexOf(waiter), 1);
          reject(RpcError.from(signal.reason, Code.Cancelled));
        });
      });
    },
  };
  return { limiter, queue, signals };
}

describe('waiting for the first instance list', () => {
  it('ends at an abort (Cancelled) or the deadline (DeadlineExceeded); a timeout beyond 2^31 − 1 ms is kept', async () => {
    const server = await pipelineServer();
    const { registry, deliver } = manualRegistry();
    const c = client({ registry });
    const controller = new AbortController();
    const t0 = Date.now();
    const aborted = failure(c.call('S', 'echo', 1, { signal: controller.signal, timeoutMs: 5_000 }));
    const short = failure(c.call('S', 'echo', 2, { timeoutMs: 100 }));
    // setTimeout fires a delay over 2^31 − 1 ms after 1 ms: this call used to fail at once.
    const long = c.call('S', 'echo', 3, { timeoutMs: 3_000_000_000 });
    controller.abort();
    expect((await aborted).code).toBe(Code.Cancelled);
    const err = await short;
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(err.rawMessage).toBe("deadline exceeded waiting for the instance list of 'S' from the registry");
    expect(Date.now() - t0).toBeLessThan(1_000);
    deliver([server.instance]);
    expect(await long).toBe(3);
  });

  it('a registry error fails the calls waiting then with Unavailable (error as cause); later calls wait again', async () => {
    const server = await pipelineServer();
    const { registry, deliver, fail, counts } = manualRegistry();
    const c = client({ registry });
    const waiting = failure(c.call('S', 'echo', 1, { timeoutMs: 5_000 }));
    const cause = new Error('registry down: ECONNREFUSED');
    fail(cause);
    const err = await waiting;
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe("registry watch of 'S' failed: registry down: ECONNREFUSED");
    expect(err.cause).toBe(cause);
    const later = c.call('S', 'echo', 2, { timeoutMs: 5_000 });
    deliver([server.instance]);
    expect(await later).toBe(2);
    // An error after a list changes nothing: the last list stays in force.
    fail(new Error('registry down again'));
    expect(await c.call('S', 'echo', 3)).toBe(3);
    expect(counts.watches).toBe(1);
  });
});

describe('close()', () => {
  it('fails a call in a retry wait at once and opens no watch or connection after', async () => {
    const server = await pipelineServer();
    const { registry, deliver, counts } = manualRegistry();
    let delays = 0;
    const retry: RetryPolicy = {
      onCall: () => {},
      nextDelay: () => {
        delays++;
        return 10_000;
      },
    };
    const c = client({ registry, retry });
    const call = failure(c.call('S', 'busy', 1, { timeoutMs: 60_000 }));
    deliver([server.instance]);
    await waitFor(() => delays === 1, 3_000, 'the retry wait');
    const t0 = Date.now();
    await c.close();
    const err = await call;
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe('client closed');
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(counts).toEqual({ watches: 1, stops: 1 });
    expect(server.sockets).toBe(1);
    expect(server.requests).toBe(1);
  });

  it('many calls in a retry wait at once raise no listener-leak warning', async () => {
    const server = await pipelineServer();
    let delays = 0;
    const retry: RetryPolicy = {
      onCall: () => {},
      nextDelay: () => {
        delays++;
        return 10_000;
      },
    };
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w);
    };
    process.on('warning', onWarning);
    cleanups.push(() => process.off('warning', onWarning));
    const c = client({ address: server.address, retry });
    const calls = Array.from({ length: 12 }, (_, i) =>
      failure(c.call('S', 'boom', i, { idempotent: true, timeoutMs: 60_000 })),
    );
    await waitFor(() => delays === 12, 3_000, 'twelve retry waits');
    await new Promise((r) => setImmediate(r)); // process warnings are emitted on a later tick
    await c.close();
    for (const err of await Promise.all(calls)) expect(err.rawMessage).toBe('client closed');
    expect(warnings.map((w) => w.name)).toEqual([]);
  });

  it('fails calls waiting for the first instance list with Unavailable', async () => {
    const { registry } = manualRegistry();
    const c = client({ registry });
    const waiting = failure(c.call('S', 'echo', 1, { timeoutMs: 60_000 }));
    await c.close();
    expect((await waiting).rawMessage).toBe('client closed');
  });
});

describe('bulkhead', () => {
  /** A client behind a one-slot bulkhead, its slot held by a call the server never answers. */
  async function slotHeld() {
    const server = await pipelineServer();
    const slot = oneSlot();
    const c = client({ address: server.address, bulkhead: slot.limiter });
    // Holds the only slot until the test ends (the client's close() fails it then).
    void failure(c.call('S', 'hold', 0, { timeoutMs: 5_000 }));
    await waitFor(() => server.held.length === 1, 3_000, 'the call holding the slot');
    return { server, slot, c };
  }

  it('a queued call leaves the queue at its deadline (DeadlineExceeded) or its abort (Cancelled)', async () => {
    const { server, slot, c } = await slotHeld();
    const t0 = Date.now();
    const late = failure(c.call('S', 'echo', 1, { timeoutMs: 100 }));
    const controller = new AbortController();
    const aborted = failure(c.call('S', 'echo', 2, { signal: controller.signal }));
    await waitFor(() => slot.queue.length === 2, 3_000, 'two queued calls');
    controller.abort();
    expect((await aborted).code).toBe(Code.Cancelled);
    const err = await late;
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(err.rawMessage).toBe('deadline exceeded waiting for a bulkhead slot');
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(slot.queue).toHaveLength(0);
    expect(server.held).toHaveLength(1);
  });

  it('a call that gets its slot at once costs no signal of its own (hot path)', async () => {
    const server = await pipelineServer();
    const slot = oneSlot();
    const c = client({ address: server.address, bulkhead: slot.limiter });
    for (let i = 0; i < 3; i++) expect(await c.call('S', 'echo', i)).toBe(i);
    expect(slot.signals).toHaveLength(3);
    expect(new Set(slot.signals).size).toBe(1);
    expect(slot.signals[0]?.aborted).toBe(false);
  });

  it('close() ends a wait for a slot at once, with Unavailable', async () => {
    const { c, slot } = await slotHeld();
    const queued = failure(c.call('S', 'echo', 1, { timeoutMs: 5_000 }));
    await waitFor(() => slot.queue.length === 1, 3_000, 'a queued call');
    const t0 = Date.now();
    await c.close();
    const err = await queued;
    expect([err.code, err.rawMessage]).toEqual([Code.Unavailable, 'client closed']);
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('an async limiter that grants at once arms no timer and adds no listener (hot path)', async () => {
    const server = await pipelineServer();
    const granted: AbortSignal[] = [];
    const limiter: Limiter = {
      acquire: async (signal) => {
        if (signal !== undefined) granted.push(signal);
        return () => {};
      },
    };
    const c = client({ address: server.address, bulkhead: limiter });
    expect(await c.call('S', 'echo', 0)).toBe(0); // connected, warm
    const controller = new AbortController();
    const added = vi.spyOn(controller.signal, 'addEventListener');
    const timers = vi.spyOn(globalThis, 'setTimeout');
    try {
      for (let i = 1; i <= 3; i++)
        expect(await c.call('S', 'echo', i, { signal: controller.signal })).toBe(i);
      // The one listener per call is the exchange's own (Cancel on abort); the slot wait adds none.
      expect(added).toHaveBeenCalledTimes(3);
      expect(timers).not.toHaveBeenCalled();
    } finally {
      timers.mockRestore();
    }
    expect(granted).toHaveLength(4);
  });
});

describe('a circuit breaker whose listener throws', () => {
  it('neither replaces the call outcome nor skips balancer.onEnd; the error becomes a process warning', async () => {
    const server = await pipelineServer();
    const { registry, deliver } = manualRegistry();
    let outstanding = 0;
    const balancer: Balancer = {
      name: 'spy',
      pick: (list) => list[0] as ServiceInstance,
      onStart: () => {
        outstanding++;
      },
      onEnd: () => {
        outstanding--;
      },
    };
    const listenerBug = new Error('listener bug');
    const breaker: Breaker = {
      state: 'closed',
      allowRequest: () => true,
      recordSuccess: () => {
        throw listenerBug;
      },
      recordFailure: () => {
        throw listenerBug;
      },
    };
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w);
    };
    process.on('warning', onWarning);
    cleanups.push(() => process.off('warning', onWarning));
    const c = client({ registry, balancer, breakers: () => breaker });
    const boom = failure(c.call('S', 'boom', 1));
    deliver([server.instance]);
    const err = await boom;
    expect(err.code).toBe(Code.Internal);
    expect(err.rawMessage).toBe('boom');
    expect(await c.call('S', 'echo', 2)).toBe(2);
    expect(outstanding).toBe(0);
    await waitFor(() => warnings.length === 2, 3_000, 'two warnings');
    expect(warnings[0]?.cause).toBe(listenerBug);
    expect(warnings[0]?.message).toBe('mini-rpc client: a listener threw: listener bug');
  });
});

describe('breaker generations', () => {
  it('a result is recorded with the generation read in the step that admitted its call (discovery and direct)', async () => {
    const server = await pipelineServer();
    const { registry, deliver } = manualRegistry();
    let generation = 1;
    const recorded: string[] = [];
    const breaker: Breaker = {
      state: 'closed',
      get generation() {
        return generation;
      },
      // The breaker changes state right after the synchronous step that admitted the call.
      allowRequest: () => {
        queueMicrotask(() => {
          generation++;
        });
        return true;
      },
      recordSuccess: (g) => {
        recorded.push(`ok@${g}`);
      },
      recordFailure: (code, g) => {
        recorded.push(`${code}@${g}`);
      },
    };
    const discovered = client({ registry, breakers: () => breaker });
    const first = discovered.call('S', 'echo', 1);
    deliver([server.instance]);
    expect(await first).toBe(1);
    expect((await failure(discovered.call('S', 'boom', 2))).code).toBe(Code.Internal);
    const direct = client({ address: server.address, breakers: () => breaker });
    expect(await direct.call('S', 'echo', 3)).toBe(3);
    expect(recorded).toEqual(['ok@1', `${Code.Internal}@2`, 'ok@3']);
    expect(generation).toBe(4);
  });
});
