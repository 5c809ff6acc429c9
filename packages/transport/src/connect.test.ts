import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Frame, RpcError } from '@mini-rpc/protocol';
import { Code, FrameType } from '@mini-rpc/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSelfSignedCert } from '../../../tooling/testing/certs.js';
import { useCleanups, waitFor } from '../../../tooling/testing/harness.js';
import { closedPort } from '../../../tooling/testing/ports.js';
import type { Connection } from './index.js';
import { connect, createConnection, listen } from './index.js';

const cleanups = useCleanups();

const ignore = { onFrame: () => {} };
const QUIET = { heartbeatIntervalMs: 0, readTimeoutMs: 0, writeTimeoutMs: 0 };

/** A TCP listener that accepts and never writes a byte: a TLS handshake with it never completes. */
async function muteListener(): Promise<number> {
  const sockets = new Set<Socket>();
  const listener = await listen({
    onSocket: (s) => {
      sockets.add(s);
      s.on('error', () => {});
      s.resume();
    },
  });
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return listener.close();
  });
  return listener.port;
}

const rejection = (p: Promise<unknown>): Promise<RpcError> =>
  p.then(
    (value) => {
      if (value !== null && typeof value === 'object' && 'close' in value) (value as Connection).close();
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as RpcError,
  );

describe('connect', () => {
  it('to a closed port fails fast with Unavailable (ECONNREFUSED)', async () => {
    const port = await closedPort();
    const t0 = Date.now();
    const err = await rejection(connect({ host: '127.0.0.1', port }, ignore));
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe(`connect 127.0.0.1:${port}: ECONNREFUSED`);
  });

  it('times out with Unavailable when the connection never becomes ready', async () => {
    const port = await muteListener();
    const t0 = Date.now();
    const err = await rejection(connect({ host: '127.0.0.1', port, tls: {}, connectTimeoutMs: 150 }, ignore));
    const elapsed = Date.now() - t0;
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe(`connect 127.0.0.1:${port}: timed out after 150 ms`);
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1_500);
  });

  it('an already aborted signal fails with Cancelled', async () => {
    const port = await muteListener();
    const err = await rejection(connect({ host: '127.0.0.1', port, signal: AbortSignal.abort() }, ignore));
    expect(err.code).toBe(Code.Cancelled);
  });

  it('aborting while connecting fails with Cancelled at once', async () => {
    const port = await muteListener();
    const controller = new AbortController();
    const pending = rejection(
      connect(
        { host: '127.0.0.1', port, tls: {}, connectTimeoutMs: 5_000, signal: controller.signal },
        ignore,
      ),
    );
    setTimeout(() => controller.abort(), 30);
    const t0 = Date.now();
    const err = await pending;
    expect(err.code).toBe(Code.Cancelled);
    expect(err.rawMessage).toMatch(/aborted/);
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it('aborting after the connection is ready does not touch it', async () => {
    const frames: Frame[] = [];
    const listener = await listen({
      onSocket: (s) => {
        const c = createConnection(s, { onFrame: (f) => frames.push(f) }, QUIET);
        cleanups.push(() => c.close());
      },
    });
    cleanups.push(() => listener.close());
    const controller = new AbortController();
    const conn = await connect(
      { host: '127.0.0.1', port: listener.port, ...QUIET, signal: controller.signal },
      ignore,
    );
    cleanups.push(() => conn.close());
    controller.abort();
    conn.send({ type: FrameType.Cancel, codec: 0, id: 9 });
    await waitFor(() => frames.length === 1, 3_000, 'the frame');
    expect(conn.closed).toBe(false);
    expect(conn.remoteAddress).toBe(`127.0.0.1:${listener.port}`);
  });

  it('a peer that resets the connection closes it with Unavailable (ECONNRESET)', async () => {
    let accepted: Socket | undefined;
    const listener = await listen({
      onSocket: (s) => {
        accepted = s;
      },
    });
    cleanups.push(() => listener.close());
    const closes: (RpcError | undefined)[] = [];
    const conn = await connect(
      { host: '127.0.0.1', port: listener.port, ...QUIET },
      { onFrame: () => {}, onClose: (e) => closes.push(e) },
    );
    cleanups.push(() => conn.close());
    await waitFor(() => accepted !== undefined, 3_000, 'accept');
    accepted?.resetAndDestroy();
    await waitFor(() => closes.length > 0, 3_000, 'close');
    expect(closes).toHaveLength(1);
    expect(closes[0]?.code).toBe(Code.Unavailable);
    expect(closes[0]?.rawMessage).toMatch(/ECONNRESET/);
  });
});

describe('connect with TLS', () => {
  let key = '';
  let cert = '';
  beforeAll(() => {
    ({ key, cert } = createSelfSignedCert());
  });

  async function tlsEcho(onServerName?: (name: string | false | null) => void): Promise<number> {
    const listener = await listen({
      tls: { key, cert },
      onSocket: (s) => {
        onServerName?.((s as TLSSocket).servername);
        const c = createConnection(
          s,
          { onFrame: (f, conn) => conn.send({ ...f, type: FrameType.Response }) },
          QUIET,
        );
        cleanups.push(() => c.close());
      },
    });
    cleanups.push(() => listener.close());
    return listener.port;
  }

  it('carries frames over TLS to a peer it trusts', async () => {
    const port = await tlsEcho();
    const frames: Frame[] = [];
    const conn = await connect(
      { host: '127.0.0.1', port, ...QUIET, tls: { ca: cert } },
      { onFrame: (f) => frames.push(f) },
    );
    cleanups.push(() => conn.close());
    conn.send({ type: FrameType.Request, codec: 0, id: 3, payload: new Uint8Array([1, 2, 3]) });
    await waitFor(() => frames.length === 1, 3_000, 'the echo');
    expect(frames[0]?.type).toBe(FrameType.Response);
    expect([...(frames[0]?.payload ?? [])]).toEqual([1, 2, 3]);
  });

  it('sends no IP address as TLS ServerName (RFC 6066; Node warns DEP0123); a given servername is sent', async () => {
    const names: (string | false | null)[] = [];
    const port = await tlsEcho((name) => names.push(name));
    const byIp = await connect({ host: '127.0.0.1', port, ...QUIET, tls: { ca: cert } }, ignore);
    cleanups.push(() => byIp.close());
    const byName = await connect(
      { host: '127.0.0.1', port, ...QUIET, tls: { ca: cert, servername: 'localhost' } },
      ignore,
    );
    cleanups.push(() => byName.close());
    await waitFor(() => names.length === 2, 3_000, 'two handshakes');
    expect(names).toEqual([false, 'localhost']);
  });

  it('refuses a server certificate it does not trust with Unauthenticated', async () => {
    const port = await tlsEcho();
    const err = await rejection(connect({ host: '127.0.0.1', port, tls: {} }, ignore));
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.rawMessage).toMatch(/TLS certificate rejected/);
  });

  it('TLS material that does not parse is InvalidArgument, an RpcError like every failure of connect', async () => {
    const port = await tlsEcho();
    const err = await rejection(
      connect({ host: '127.0.0.1', port, tls: { ca: cert, cert: 'not a PEM', key: 'not a key' } }, ignore),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toMatch(/bad TLS options/);
  });

  it('refuses a certificate for another name with Unauthenticated', async () => {
    const port = await tlsEcho();
    const err = await rejection(
      connect({ host: '127.0.0.1', port, tls: { ca: cert, servername: 'example.com' } }, ignore),
    );
    expect(err.code).toBe(Code.Unauthenticated);
  });
});
