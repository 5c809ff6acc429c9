import type { Socket } from 'node:net';
import { connect as netConnect } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { useCleanups } from '../../../tooling/testing/harness.js';
import type { Connection, ConnectionOptions } from './index.js';
import { checkConnectionOptions, connect, createConnection, listen } from './index.js';
import { MAX_TIMER_MS } from './timer-ms.js';

const cleanups = useCleanups();

const QUIET = { heartbeatIntervalMs: 0, readTimeoutMs: 0, writeTimeoutMs: 0 };

async function framedListener() {
  const accepted: Connection[] = [];
  const listener = await listen({
    onSocket: (s) => {
      accepted.push(createConnection(s, { onFrame: () => {} }, QUIET));
    },
  });
  cleanups.push(() => {
    for (const c of accepted) c.close();
    return listener.close();
  });
  return listener;
}

describe('timer options', () => {
  it('a timeout over the timers limit (~24.8 days) keeps its liveness timer within it; it does not fire every 1 ms', async () => {
    const listener = await framedListener();
    const spy = vi.spyOn(globalThis, 'setInterval');
    cleanups.push(() => spy.mockRestore());
    const conn = await connect(
      { host: '127.0.0.1', port: listener.port, ...QUIET, readTimeoutMs: 2 ** 34 },
      { onFrame: () => {} },
    );
    cleanups.push(() => conn.close());
    const delays = spy.mock.calls.map((c) => c[1] as number);
    expect(delays).toHaveLength(1);
    expect(delays[0]).toBeGreaterThanOrEqual(10);
    expect(delays[0]).toBeLessThanOrEqual(MAX_TIMER_MS);
  });

  it('Infinity switches a timeout off (no timer); NaN or a negative value is a TypeError', async () => {
    const listener = await framedListener();
    const spy = vi.spyOn(globalThis, 'setInterval');
    cleanups.push(() => spy.mockRestore());
    const off = Number.POSITIVE_INFINITY;
    const conn = await connect(
      {
        host: '127.0.0.1',
        port: listener.port,
        heartbeatIntervalMs: off,
        readTimeoutMs: off,
        writeTimeoutMs: off,
      },
      { onFrame: () => {} },
    );
    cleanups.push(() => conn.close());
    expect(spy).not.toHaveBeenCalled();
    for (const bad of [Number.NaN, -1]) {
      await expect(
        connect(
          { host: '127.0.0.1', port: listener.port, ...QUIET, readTimeoutMs: bad },
          { onFrame: () => {} },
        ),
      ).rejects.toThrow(
        new TypeError(`readTimeoutMs must be a number of ms ≥ 0 (0 or Infinity: off), got ${bad}`),
      );
    }
  });

  it('connect: an infinite connectTimeoutMs connects (it timed out after 1 ms); bad values, an empty host or a bad port are TypeErrors before any socket', async () => {
    const listener = await framedListener();
    const conn = await connect(
      { host: '127.0.0.1', port: listener.port, ...QUIET, connectTimeoutMs: Number.POSITIVE_INFINITY },
      { onFrame: () => {} },
    );
    cleanups.push(() => conn.close());
    expect(conn.closed).toBe(false);
    const attempts: [object, RegExp][] = [
      [{ connectTimeoutMs: Number.NaN }, /connectTimeoutMs must be a number of ms/],
      [{ connectTimeoutMs: -5 }, /connectTimeoutMs must be a number of ms/],
      [{ host: '' }, /host must be a non-empty string/],
      [{ port: 0 }, /port must be an integer in 1…65535, got 0/],
      [{ port: 70_000 }, /port must be an integer in 1…65535, got 70000/],
    ];
    for (const [change, message] of attempts) {
      const options = { host: '127.0.0.1', port: listener.port, ...QUIET, ...change };
      await expect(connect(options, { onFrame: () => {} })).rejects.toThrow(message);
    }
  });
});

describe('size options', () => {
  const SIZES = ['maxPayload', 'maxMetadata', 'maxQueuedBytes', 'maxBatchFrames', 'maxBatchBytes'] as const;

  it('NaN, a negative value or a non-number is a TypeError before any socket: NaN would switch a limit off', async () => {
    // With maxPayload NaN, `length > NaN` is never true: a header that claimed 4 GiB was buffered.
    const listener = await framedListener();
    for (const name of SIZES) {
      for (const bad of [Number.NaN, -1, '1024']) {
        const message = `${name} must be a number ≥ 0, got ${String(bad)}`;
        const options = { ...QUIET, [name]: bad } as unknown as ConnectionOptions;
        expect(() => checkConnectionOptions(options), `${name} ${String(bad)}`).toThrow(
          new TypeError(message),
        );
        await expect(
          connect({ host: '127.0.0.1', port: listener.port, ...options }, { onFrame: () => {} }),
        ).rejects.toThrow(new TypeError(message));
      }
    }
  });

  it('createConnection checks them too, and takes 0 and Infinity', async () => {
    const listener = await framedListener();
    const sockets: Socket[] = [];
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
    });
    const open = async (): Promise<Socket> => {
      const socket = netConnect({ host: '127.0.0.1', port: listener.port });
      sockets.push(socket);
      await new Promise<void>((r) => socket.once('connect', () => r()));
      return socket;
    };
    const socket = await open();
    expect(() => createConnection(socket, { onFrame: () => {} }, { maxPayload: Number.NaN })).toThrow(
      new TypeError('maxPayload must be a number ≥ 0, got NaN'),
    );
    const conn = createConnection(
      await open(),
      { onFrame: () => {} },
      {
        ...QUIET,
        maxPayload: Number.POSITIVE_INFINITY,
        maxQueuedBytes: Number.POSITIVE_INFINITY,
        maxBatchFrames: 0,
      },
    );
    cleanups.push(() => conn.close());
    expect(conn.closed).toBe(false);
  });
});
