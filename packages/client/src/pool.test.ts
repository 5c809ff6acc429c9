import type { Codec } from '@mini-rpc/codec';
import { jsonCodec } from '@mini-rpc/codec';
import type { Frame } from '@mini-rpc/protocol';
import { Code, FrameType, MetadataKey, RpcError } from '@mini-rpc/protocol';
import type { Connection, Listener } from '@mini-rpc/transport';
import { createConnection, listen } from '@mini-rpc/transport';
import { describe, expect, it, vi } from 'vitest';
import { createTestPki } from '../../../tooling/testing/certs.js';
import { rejection, useCleanups, waitFor } from '../../../tooling/testing/harness.js';
import { closedPort } from '../../../tooling/testing/ports.js';
import { silentServer } from '../test/silent-server.js';
import type { ClientConnection, PendingCall } from './client-connection.js';
import type { PoolOptions } from './index.js';
import { ConnectionPool, isUnprocessed } from './index.js';

const cleanups = useCleanups();

const QUIET = { heartbeatIntervalMs: 0, readTimeoutMs: 0, writeTimeoutMs: 0 };

/**
 * A frame-speaking server built from transport's listen() + createConnection(): it holds every Request
 * until the test answers it with `answer(id)`.
 */
async function holdingServer(port = 0) {
  const conns: Connection[] = [];
  const held: { frame: Frame; conn: Connection }[] = [];
  let closed = 0;
  const listener: Listener = await listen({
    port,
    onSocket: (s) => {
      conns.push(
        createConnection(
          s,
          {
            onFrame: (frame, conn) => {
              if (frame.type === FrameType.Request) held.push({ frame, conn });
            },
            onClose: () => {
              closed++;
            },
          },
          QUIET,
        ),
      );
    },
  });
  cleanups.push(() => {
    for (const c of conns) c.close();
    return listener.close();
  });
  return {
    listener,
    conns,
    held,
    get closed() {
      return closed;
    },
    /** Answers request `id` once it has arrived. */
    async answer(id: number, value: unknown = id): Promise<void> {
      await waitFor(() => held.some((h) => h.frame.id === id), 3_000, `request ${id} to arrive`);
      const i = held.findIndex((h) => h.frame.id === id);
      const h = held.splice(i, 1)[0];
      h?.conn.send({ type: FrameType.Response, codec: 0, id, payload: jsonCodec.encode(value) });
    },
  };
}

/** A pending call as the client makes them; `settled` says how it ended. */
function pendingCall(id: number, codec: Codec = jsonCodec) {
  const state = { value: undefined as unknown, error: undefined as RpcError | undefined, settled: false };
  const call: PendingCall = {
    id,
    responseCodec: codec,
    deadline: Number.POSITIVE_INFINITY,
    expire: () => {},
    responseSchema: { service: 'S', method: 'm', kind: 'response' },
    resolve: (v) => {
      state.value = v;
      state.settled = true;
    },
    reject: (e) => {
      state.error = e;
      state.settled = true;
    },
  };
  return { call, state };
}

let nextId = 1;
/** Sends one held request on `conn`; returns its id and state. */
function sendHeld(conn: ClientConnection) {
  const id = nextId++;
  const p = pendingCall(id);
  conn.send(p.call, {
    type: FrameType.Request,
    codec: 0,
    id,
    metadata: { [MetadataKey.Service]: 'S', [MetadataKey.Method]: 'm' },
  });
  return { id, ...p };
}

function pool(port: number, options: PoolOptions = {}): ConnectionPool {
  const p = new ConnectionPool({ host: '127.0.0.1', port, ...QUIET }, options);
  cleanups.push(() => p.close());
  return p;
}

/** A pool whose connects hang until `connectTimeoutMs` (default 10 s). */
async function hangingPool(connectTimeoutMs = 10_000): Promise<ConnectionPool> {
  const port = await silentServer(cleanups);
  const p = new ConnectionPool({
    host: '127.0.0.1',
    port,
    ...QUIET,
    connectTimeoutMs,
    tls: { rejectUnauthorized: false },
  });
  cleanups.push(() => p.close());
  return p;
}

const failure = (p: Promise<unknown>) => rejection<RpcError>(p);

describe('ConnectionPool', () => {
  it('opens one connection, then reuses it: created, reused and reuseRatio count that', async () => {
    const server = await holdingServer();
    const p = pool(server.listener.port);
    expect(p.address).toBe(`127.0.0.1:${server.listener.port}`);
    expect(p.tryGet()).toBeUndefined();
    expect(p.stats()).toEqual({ created: 0, reused: 0, active: 0, idle: 0, reuseRatio: 0 });
    const first = await p.get();
    for (let i = 0; i < 3; i++) expect(p.tryGet()).toBe(first);
    expect(await p.get()).toBe(first);
    expect(p.stats()).toEqual({ created: 1, reused: 4, active: 0, idle: 1, reuseRatio: 4 / 5 });
    const call = sendHeld(first);
    expect(p.stats().active).toBe(1);
    expect(p.inFlight).toBe(1);
    await server.answer(call.id, 'done');
    await waitFor(() => call.state.settled, 3_000, 'the answer');
    expect(call.state.value).toBe('done');
    expect(p.stats()).toMatchObject({ active: 0, idle: 1 });
    expect(server.conns).toHaveLength(1);
  });

  it('concurrent get()s share one connect', async () => {
    const server = await holdingServer();
    const p = pool(server.listener.port);
    const conns = await Promise.all([p.get(), p.get(), p.get()]);
    expect(new Set(conns).size).toBe(1);
    expect(p.stats().created).toBe(1);
    expect(server.conns).toHaveLength(1);
  });

  it('opens a second connection when every open one carries callsPerConnection calls, up to maxActive', async () => {
    const server = await holdingServer();
    const p = pool(server.listener.port, { maxActive: 2, callsPerConnection: 2 });
    const a = await p.get();
    sendHeld(a);
    expect(p.tryGet()).toBe(a);
    sendHeld(a);
    // a is full and a second connection is allowed: the hot path declines, get() opens one.
    expect(p.tryGet()).toBeUndefined();
    const b = await p.get();
    expect(b).not.toBe(a);
    expect(p.tryGet()).toBe(b);
    sendHeld(b);
    sendHeld(b);
    sendHeld(b);
    // At maxActive, the least-loaded connection takes more than callsPerConnection.
    expect(p.tryGet()).toBe(a);
    expect(p.stats()).toMatchObject({ created: 2, active: 2, idle: 0 });
    expect(server.conns).toHaveLength(2);
  });

  it('maxActive 1 (the default) never opens a second connection, however loaded', async () => {
    const server = await holdingServer();
    const p = pool(server.listener.port, { callsPerConnection: 1 });
    const a = await p.get();
    for (let i = 0; i < 5; i++) sendHeld(a);
    expect(p.tryGet()).toBe(a);
    expect(await p.get()).toBe(a);
    expect(p.stats().created).toBe(1);
  });

  it('closes connections idle for idleTimeoutMs; the next get() opens a new one', async () => {
    const server = await holdingServer();
    const p = pool(server.listener.port, { idleTimeoutMs: 100 });
    const a = await p.get();
    const call = sendHeld(a);
    await server.answer(call.id);
    await waitFor(() => call.state.settled, 3_000, 'the answer');
    await waitFor(() => server.closed === 1, 3_000, 'the idle connection to close');
    await waitFor(() => a.closed, 3_000, 'client side closed');
    expect(p.tryGet()).toBeUndefined();
    expect(p.stats()).toMatchObject({ active: 0, idle: 0 });
    const b = await p.get();
    expect(b).not.toBe(a);
    expect(p.stats().created).toBe(2);
  });

  it('an idleTimeoutMs over 2^32 ms sweeps at most every 2^31 − 1 ms, not every millisecond', async () => {
    const server = await holdingServer();
    const p = pool(server.listener.port, { idleTimeoutMs: 2 ** 33 });
    const intervals = vi.spyOn(globalThis, 'setInterval');
    try {
      await p.get();
      // Node fires an interval over 2^31 − 1 ms after 1 ms, and again every millisecond.
      const delays = intervals.mock.calls.map((call) => call[1]);
      expect(delays).toEqual([2 ** 31 - 1]);
    } finally {
      intervals.mockRestore();
    }
  });

  it('a busy connection is not closed by the idle timeout', async () => {
    const server = await holdingServer();
    const p = pool(server.listener.port, { idleTimeoutMs: 100 });
    const a = await p.get();
    const call = sendHeld(a);
    // Three sweeps of the idle timer pass while the call is in flight.
    await new Promise((r) => setTimeout(r, 350));
    expect(a.closed).toBe(false);
    expect(a.retired).toBe(false);
    await server.answer(call.id);
    await waitFor(() => call.state.settled, 3_000, 'the answer');
    expect(call.state.error).toBeUndefined();
  });

  it('keeps at most maxIdle idle connections', async () => {
    const server = await holdingServer();
    const p = pool(server.listener.port, { maxActive: 3, maxIdle: 1, callsPerConnection: 1 });
    const a = await p.get();
    const ca = sendHeld(a);
    const b = await p.get();
    const cb = sendHeld(b);
    const c = await p.get();
    const cc = sendHeld(c);
    expect(new Set([a, b, c]).size).toBe(3);
    for (const call of [ca, cb, cc]) await server.answer(call.id);
    await waitFor(() => server.closed === 2, 3_000, 'two idle connections trimmed');
    await waitFor(() => p.stats().idle === 1, 3_000, 'one idle left');
    expect(p.stats().active).toBe(0);
  });

  it('after a failed connect, calls fail fast with Unavailable (marked unprocessed) until the backoff passes', async () => {
    const port = await closedPort();
    const p = pool(port, { initialBackoffMs: 150, maxBackoffMs: 1_000 });
    const first = (await p.get().catch((e: unknown) => e)) as RpcError;
    expect(first.code).toBe(Code.Unavailable);
    expect(first.rawMessage).toMatch(/ECONNREFUSED/);
    expect(isUnprocessed(first)).toBe(true);
    expect(p.healthy).toBe(false);

    // Meanwhile a server appears on that port: the pool still waits out its backoff.
    const server = await holdingServer(port);
    const fast = (await p.get().catch((e: unknown) => e)) as RpcError;
    expect(fast.code).toBe(Code.Unavailable);
    expect(fast.rawMessage).toMatch(/ECONNREFUSED \(next try in \d+ ms\)$/);
    expect(isUnprocessed(fast)).toBe(true);
    expect(server.conns).toHaveLength(0);

    await waitFor(() => p.healthy, 3_000, 'the backoff to pass');
    const conn = await p.get();
    expect(conn.closed).toBe(false);
    expect(p.stats().created).toBe(1);
  });

  it('the backoff doubles after each failure, up to maxBackoffMs', async () => {
    const port = await closedPort();
    const p = pool(port, { initialBackoffMs: 40, maxBackoffMs: 100 });
    const waits: number[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      await p.get().catch(() => {});
      const msg = ((await p.get().catch((e: unknown) => e)) as RpcError).rawMessage;
      waits.push(Number(/next try in (\d+) ms/.exec(msg)?.[1]));
      await waitFor(() => p.healthy, 3_000, 'backoff');
    }
    expect(waits[0]).toBeLessThanOrEqual(40);
    expect(waits[1]).toBeGreaterThan(40);
    expect(waits[1]).toBeLessThanOrEqual(80);
    expect(waits[2]).toBeGreaterThan(80);
    expect(waits[2]).toBeLessThanOrEqual(100);
    expect(waits[3]).toBeGreaterThan(80);
    expect(waits[3]).toBeLessThanOrEqual(100);
  });

  it('a server refusing the client certificate (mutual TLS) is backed off like a failed connect, not met with a handshake per call', async () => {
    const pki = createTestPki();
    const listener = await listen({
      tls: { key: pki.serverKey, cert: pki.serverCert, ca: pki.ca, requestCert: true },
      onSocket: (s) => s.destroy(), // never reached: listen() refuses the rogue certificate itself
    });
    cleanups.push(() => listener.close());
    const p = new ConnectionPool(
      {
        host: '127.0.0.1',
        port: listener.port,
        ...QUIET,
        tls: { ca: pki.ca, key: pki.rogueKey, cert: pki.rogueCert },
      },
      { initialBackoffMs: 60_000 },
    );
    cleanups.push(() => p.close());
    const conn = await p.get();
    await waitFor(() => conn.retired, 3_000, "the server's GoAway");
    expect(p.healthy).toBe(false);
    for (let i = 0; i < 5; i++) {
      const err = await failure(p.get());
      expect(err.code).toBe(Code.Unauthenticated);
      expect(err.rawMessage).toMatch(/client certificate rejected .*\(next try in \d+ ms\)$/);
      expect(isUnprocessed(err)).toBe(true);
    }
    expect(p.stats().created).toBe(1);
  });

  it('after a refusal the backoff doubles across refused connections and starts afresh once a call is answered', async () => {
    const server = await holdingServer();
    const p = pool(server.listener.port, { initialBackoffMs: 40, maxBackoffMs: 10_000 });
    /** Opens the next connection, has the server refuse it, and returns the wait the pool then announces. */
    const refuseNext = async (): Promise<number> => {
      const conn = await p.get();
      await waitFor(() => server.conns.length === p.stats().created, 3_000, 'accept');
      server.conns.at(-1)?.goAway(Code.Unauthenticated, 'token revoked');
      await waitFor(() => conn.retired, 3_000, "the server's GoAway");
      const err = await failure(p.get());
      expect(err.code).toBe(Code.Unauthenticated);
      await waitFor(() => p.healthy, 3_000, 'the backoff to pass');
      return Number(/token revoked \(next try in (\d+) ms\)$/.exec(err.rawMessage)?.[1]);
    };
    const first = await refuseNext();
    const second = await refuseNext();
    expect(first).toBeLessThanOrEqual(40);
    expect(second).toBeGreaterThan(40); // the connect between them succeeded, but was refused again
    expect(second).toBeLessThanOrEqual(80);

    // A connection that gets an answer: the server accepts this client again.
    const conn = await p.get();
    const call = sendHeld(conn);
    await server.answer(call.id, 'ok');
    await waitFor(() => call.state.settled, 3_000, 'the answer');
    expect(call.state.value).toBe('ok');
    server.conns.at(-1)?.goAway(Code.PermissionDenied, 'role removed');
    await waitFor(() => conn.retired, 3_000, "the server's GoAway");
    const err = await failure(p.get());
    expect(err.code).toBe(Code.PermissionDenied);
    expect(Number(/\(next try in (\d+) ms\)$/.exec(err.rawMessage)?.[1])).toBeLessThanOrEqual(40);
  });

  it("a GoAway for the server's own reasons starts no backoff: the next get() connects again", async () => {
    const server = await holdingServer();
    const p = pool(server.listener.port, { initialBackoffMs: 60_000 });
    const conn = await p.get();
    await waitFor(() => server.conns.length === 1, 3_000, 'accept');
    server.conns[0]?.goAway(Code.Unavailable, 'server shutting down');
    await waitFor(() => conn.retired, 3_000, "the server's GoAway");
    expect(p.healthy).toBe(true);
    const next = await p.get();
    expect(next).not.toBe(conn);
    expect(p.stats().created).toBe(2);
  });

  it('a connect cancelled by the caller starts no backoff', async () => {
    const server = await holdingServer();
    const p = pool(server.listener.port);
    const err = (await p.get(AbortSignal.abort()).catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe(Code.Cancelled);
    expect(p.healthy).toBe(true);
    expect((await p.get()).closed).toBe(false);
  });

  it('one caller aborting a shared connect leaves it to the others', async () => {
    const server = await holdingServer();
    const p = pool(server.listener.port);
    const controller = new AbortController();
    const first = failure(p.get(controller.signal));
    const second = p.get();
    controller.abort();
    expect((await first).code).toBe(Code.Cancelled);
    const conn = await second;
    expect(conn.closed).toBe(false);
    expect(p.stats().created).toBe(1);
    expect(p.healthy).toBe(true);
  });

  it('a caller waiting for a connect leaves at its deadline with DeadlineExceeded; the others wait on', async () => {
    const p = await hangingPool();
    const t0 = Date.now();
    const late = failure(p.get(undefined, t0 + 100));
    const patient = failure(p.get());
    const err = await late;
    const elapsed = Date.now() - t0;
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(err.rawMessage).toMatch(/^deadline exceeded waiting for a connection to 127\.0\.0\.1:\d+$/);
    expect(isUnprocessed(err)).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(95);
    expect(elapsed).toBeLessThan(1_000);
    // A deadline already past, or an aborted signal, fails at once.
    expect((await failure(p.get(undefined, Date.now() - 1))).code).toBe(Code.DeadlineExceeded);
    expect((await failure(p.get(AbortSignal.abort()))).code).toBe(Code.Cancelled);
    // close() fails the callers still waiting at once and stops the connect, which starts no backoff.
    p.close(new RpcError(Code.Unavailable, 'client closed'));
    expect((await patient).rawMessage).toBe('client closed');
  });

  it('drain() fails the callers waiting for a connect at once (unprocessed: they may go elsewhere)', async () => {
    const p = await hangingPool();
    const waiting = failure(p.get());
    p.drain();
    const err = await waiting;
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toMatch(/is closed$/);
    expect(isUnprocessed(err)).toBe(true);
  });

  it('drain(): a slow call outlives the write timeout; the connection ends once it is answered', async () => {
    // The half-close used to be sent at once, and its guard destroyed the socket after writeTimeoutMs
    // (15 s by default) with the call still running on the server.
    const server = await holdingServer();
    const p = new ConnectionPool({
      host: '127.0.0.1',
      port: server.listener.port,
      ...QUIET,
      writeTimeoutMs: 50,
    });
    cleanups.push(() => p.close());
    const a = await p.get();
    const call = sendHeld(a);
    await waitFor(() => server.held.length === 1, 3_000, 'request arrived');
    // Five write timeouts pass while the call runs: time is the subject, so the timers drain() starts (and
    // the clock) are fake, and 250 ms pass at once.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    cleanups.push(() => vi.useRealTimers());
    p.drain();
    vi.advanceTimersByTime(250);
    vi.useRealTimers();
    expect(call.state.settled).toBe(false);
    expect(a.closed).toBe(false);
    await server.answer(call.id, 'slow but fine');
    await waitFor(() => call.state.settled, 3_000, 'the answer');
    expect(call.state.value).toBe('slow but fine');
    await waitFor(() => a.closed, 3_000, 'the drained connection to close');
    expect(server.closed).toBe(1);
  });

  it('a connection closed by the server leaves the pool; the next get() reconnects', async () => {
    const server = await holdingServer();
    const p = pool(server.listener.port);
    const a = await p.get();
    const call = sendHeld(a);
    await waitFor(() => server.conns.length === 1, 3_000, 'accepted');
    server.conns[0]?.close();
    await waitFor(() => call.state.settled, 3_000, 'the pending call to fail');
    expect(call.state.error?.code).toBe(Code.Unavailable);
    expect(isUnprocessed(call.state.error as RpcError)).toBe(false);
    expect(p.tryGet()).toBeUndefined();
    expect(await p.get()).not.toBe(a);
  });

  it('drain(): in-flight calls finish, new ones are refused (unprocessed), then connections close', async () => {
    const server = await holdingServer();
    const p = pool(server.listener.port);
    const a = await p.get();
    const call = sendHeld(a);
    await waitFor(() => server.held.length === 1, 3_000, 'request arrived');
    p.drain();
    expect(p.healthy).toBe(false);
    expect(p.tryGet()).toBeUndefined();
    const refused = (await p.get().catch((e: unknown) => e)) as RpcError;
    expect(refused.code).toBe(Code.Unavailable);
    expect(isUnprocessed(refused)).toBe(true);
    expect(() => sendHeld(a)).toThrow(expect.objectContaining({ code: Code.Unavailable }));
    await server.answer(call.id, 'finished');
    await waitFor(() => call.state.settled, 3_000, 'the answer');
    expect(call.state.value).toBe('finished');
    await waitFor(() => a.closed, 3_000, 'the drained connection to close');
  });

  it('tells its hooks about every connection it opens and every one that leaves', async () => {
    const server = await holdingServer();
    const opened: ClientConnection[] = [];
    const closed: ClientConnection[] = [];
    const p = new ConnectionPool(
      { host: '127.0.0.1', port: server.listener.port, ...QUIET },
      {},
      { opened: (c) => opened.push(c), closed: (c) => closed.push(c) },
    );
    cleanups.push(() => p.close());
    const a = await p.get();
    expect(opened).toEqual([a]);
    server.conns[0]?.close();
    await waitFor(() => closed.length === 1, 3_000, 'the closed hook');
    expect(closed).toEqual([a]);
  });

  it('close(error): pending calls fail with that error at once; get() refuses', async () => {
    const server = await holdingServer();
    const p = pool(server.listener.port);
    const a = await p.get();
    const call = sendHeld(a);
    p.close(new RpcError(Code.Unavailable, 'client closed'));
    expect(call.state.settled).toBe(true);
    expect(call.state.error?.code).toBe(Code.Unavailable);
    expect(call.state.error?.rawMessage).toBe('client closed');
    expect(a.closed).toBe(true);
    const refused = (await p.get().catch((e: unknown) => e)) as RpcError;
    expect(refused.rawMessage).toMatch(/is closed/);
  });
});
