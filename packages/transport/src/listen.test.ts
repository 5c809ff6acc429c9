import type { Socket } from 'node:net';
import { connect as netConnect } from 'node:net';
import type { Frame } from '@mini-rpc/protocol';
import { Code, createFrameDecoder, FrameType, MetadataKey, RpcError } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { createSelfSignedCert } from '../../../tooling/testing/certs.js';
import { useCleanups, waitFor } from '../../../tooling/testing/harness.js';
import type { Connection, Listener, ListenOptions } from './index.js';
import { connect, createConnection, listen } from './index.js';

const cleanups = useCleanups();

const QUIET = { heartbeatIntervalMs: 0, readTimeoutMs: 0, writeTimeoutMs: 0 };

/** A listener whose accepted sockets become framed connections, kept in `accepted`. */
async function framedListener(maxConnections?: number) {
  const accepted: Connection[] = [];
  const listener = await listen({
    ...(maxConnections === undefined ? {} : { maxConnections }),
    onSocket: (s) => {
      accepted.push(createConnection(s, { onFrame: () => {} }, QUIET));
    },
  });
  cleanups.push(() => {
    for (const c of accepted) c.close();
    return listener.close();
  });
  return { listener, accepted };
}

async function client(listener: Listener) {
  const frames: Frame[] = [];
  const closes: (RpcError | undefined)[] = [];
  const conn = await connect(
    { host: '127.0.0.1', port: listener.port, ...QUIET },
    { onFrame: (f) => frames.push(f), onClose: (e) => closes.push(e) },
  );
  cleanups.push(() => conn.close());
  return { conn, frames, closes };
}

/** A raw TCP peer that never closes its side (allowHalfOpen): records the frames it gets and its 'close'. */
async function stubbornPeer(port: number) {
  const state = { frames: [] as Frame[], closed: false };
  const socket = netConnect({ host: '127.0.0.1', port, allowHalfOpen: true });
  socket.on('error', () => {});
  socket.on('close', () => {
    state.closed = true;
  });
  const decoder = createFrameDecoder((f) => state.frames.push(f));
  socket.on('data', (chunk: Buffer) => decoder.push(chunk));
  cleanups.push(() => socket.destroy());
  await new Promise<void>((r) => socket.once('connect', () => r()));
  return { socket, state };
}

/**
 * For a `waitFor` poll: whether the server let go of the peer's connection. Its FIN came with the GoAway, so
 * only a write tells: a byte sent to a destroyed socket draws a reset, which closes the peer.
 */
function peerDropped(peer: Awaited<ReturnType<typeof stubbornPeer>>): boolean {
  if (!peer.state.closed) peer.socket.write(Buffer.of(0));
  return peer.state.closed;
}

/** A raw TCP peer that connects and sends nothing (a TLS handshake never starts); `dropped()` once it is let go. */
async function silentPeer(port: number) {
  const socket = netConnect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  cleanups.push(() => socket.destroy());
  let closed = false;
  socket.on('close', () => {
    closed = true;
  });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  return { dropped: (): boolean => closed || socket.readableEnded };
}

describe('listen', () => {
  it('listens on 127.0.0.1 and a free port by default, and counts open connections', async () => {
    const { listener, accepted } = await framedListener();
    expect(listener.host).toBe('127.0.0.1');
    expect(listener.port).toBeGreaterThan(0);
    expect(listener.connections).toBe(0);
    const a = await client(listener);
    await client(listener);
    await waitFor(() => listener.connections === 2, 3_000, 'two connections');
    expect(accepted).toHaveLength(2);
    a.conn.close();
    await waitFor(() => listener.connections === 1, 3_000, 'one connection');
  });

  it('beyond maxConnections, the extra connection gets GoAway(Unavailable, id 0: no call ran) and is closed', async () => {
    const { listener, accepted } = await framedListener(1);
    const first = await client(listener);
    await waitFor(() => accepted.length === 1, 3_000, 'first accepted');
    const extra = await client(listener);
    await waitFor(() => extra.closes.length > 0, 3_000, 'the extra connection to close');
    expect(extra.frames).toHaveLength(1);
    expect(extra.frames[0]?.type).toBe(FrameType.GoAway);
    expect(extra.frames[0]?.metadata[MetadataKey.Status]).toBe(String(Code.Unavailable));
    expect(extra.frames[0]?.id).toBe(0);
    expect(extra.frames[0]?.metadata[MetadataKey.Message]).toBe('too many connections (limit 1)');
    expect(accepted).toHaveLength(1);
    expect(listener.connections).toBe(1);
    expect(first.conn.closed).toBe(false);
    // A slot freed is a slot available again.
    first.conn.close();
    await waitFor(() => listener.connections === 0, 3_000, 'the slot to free');
    await client(listener);
    await waitFor(() => accepted.length === 2, 3_000, 'a new connection accepted');
  });

  it('a refused connection whose peer never closes its side is destroyed after a linger of ~1 s', async () => {
    const { listener, accepted } = await framedListener(1);
    await client(listener);
    await waitFor(() => accepted.length === 1, 3_000, 'first accepted');
    const peer = await stubbornPeer(listener.port);
    await waitFor(() => peer.state.frames.length === 1, 3_000, 'the GoAway');
    expect(peer.state.frames[0]?.metadata[MetadataKey.Status]).toBe(String(Code.Unavailable));
    const waited = await waitFor(() => peerDropped(peer), 3_000, 'the refused socket to be destroyed');
    expect(waited).toBeGreaterThanOrEqual(800);
    expect(listener.connections).toBe(1);
  });

  it('close() destroys refused connections at once, without waiting for their linger', async () => {
    const { listener, accepted } = await framedListener(1);
    const first = await client(listener);
    await waitFor(() => accepted.length === 1, 3_000, 'first accepted');
    const peer = await stubbornPeer(listener.port);
    await waitFor(() => peer.state.frames.length === 1, 3_000, 'the GoAway');
    const t0 = Date.now();
    first.conn.close(); // the one accepted connection is closed by its owner: close() waits for nothing else
    let closed = false;
    void listener.close().then(() => {
      closed = true;
    });
    await waitFor(() => closed, 3_000, 'listener.close() to resolve');
    await waitFor(() => peerDropped(peer), 3_000, 'the refused socket to be destroyed');
    // Well before the 1 s linger would have destroyed it.
    expect(Date.now() - t0).toBeLessThan(800);
  });

  it('rejects with Unavailable when the port is taken', async () => {
    const { listener } = await framedListener();
    const err = await listen({ port: listener.port, onSocket: () => {} }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(Code.Unavailable);
    expect((err as RpcError).rawMessage).toMatch(/^listen: .*EADDRINUSE/);
  });

  it('rejects with a TypeError for a maxConnections that is not a number ≥ 0 (NaN would lift the limit)', async () => {
    for (const bad of [Number.NaN, -1, '5']) {
      const options = { maxConnections: bad, onSocket: () => {} } as unknown as ListenOptions;
      await expect(listen(options), String(bad)).rejects.toThrow(
        new TypeError(`maxConnections must be a number ≥ 0, got ${String(bad)}`),
      );
    }
  });

  it('close() stops accepting at once; open connections stay with their owners', async () => {
    const { listener, accepted } = await framedListener();
    const open = await client(listener);
    await waitFor(() => accepted.length === 1, 3_000, 'accepted');
    const closed = listener.close();
    const refused = await connect({ host: '127.0.0.1', port: listener.port }, { onFrame: () => {} }).then(
      (c) => {
        c.close();
        return undefined;
      },
      (e: unknown) => e as RpcError,
    );
    expect(refused?.code).toBe(Code.Unavailable);
    // The accepted connection still works both ways.
    accepted[0]?.send({ type: FrameType.Response, codec: 0, id: 1 });
    await waitFor(() => open.frames.length === 1, 3_000, 'a frame over the open connection');
    // close() resolves once the last accepted socket is gone (node:net semantics).
    open.conn.close();
    await closed;
  });
});

describe('listen with TLS', () => {
  it('reports a failed handshake to onError, and close() destroys handshakes in progress', async () => {
    const errors: Error[] = [];
    const sockets: Socket[] = [];
    const listener = await listen({
      tls: createSelfSignedCert(),
      onSocket: (s) => sockets.push(s),
      onError: (e) => errors.push(e),
    });
    let listenerClosed = false;
    cleanups.push(() => (listenerClosed ? undefined : listener.close()));

    // Plain bytes at a TLS server: the handshake fails and onError hears of it, as an RpcError.
    const plain = netConnect({ host: '127.0.0.1', port: listener.port });
    plain.on('error', () => {});
    cleanups.push(() => plain.destroy());
    plain.write(Buffer.alloc(64, 0x4d));
    await waitFor(() => errors.length > 0, 3_000, 'the handshake error');
    expect(errors[0]).toBeInstanceOf(RpcError);
    expect((errors[0] as RpcError).rawMessage).toMatch(/^TLS handshake: /);

    // A peer that connects and never starts its handshake must not keep close() waiting.
    const silent = await silentPeer(listener.port);
    const t0 = Date.now();
    await listener.close();
    listenerClosed = true;
    expect(Date.now() - t0).toBeLessThan(2_000);
    await waitFor(() => silent.dropped(), 3_000, 'the silent peer to be dropped');
    expect(sockets).toEqual([]);
  });

  it('close() leaves established TLS connections open and usable until their owner ends them', async () => {
    const { key, cert } = createSelfSignedCert();
    const server = {
      conns: [] as Connection[],
      frames: [] as Frame[],
      closes: [] as (RpcError | undefined)[],
    };
    const listener = await listen({
      tls: { key, cert },
      onSocket: (s) => {
        const handlers = {
          onFrame: (f: Frame) => server.frames.push(f),
          onClose: (e: RpcError | undefined) => server.closes.push(e),
        };
        server.conns.push(createConnection(s, handlers, QUIET));
      },
    });
    let listenerClosed = false;
    cleanups.push(() => (listenerClosed ? undefined : listener.close()));
    cleanups.push(() => {
      for (const c of server.conns) c.close();
    });
    const frames: Frame[] = [];
    const closes: (RpcError | undefined)[] = [];
    const conn = await connect(
      { host: '127.0.0.1', port: listener.port, ...QUIET, tls: { ca: cert } },
      { onFrame: (f) => frames.push(f), onClose: (e) => closes.push(e) },
    );
    cleanups.push(() => conn.close());
    await waitFor(() => server.conns.length === 1, 3_000, 'the TLS connection handed over');
    // A peer that never starts its handshake: close() still drops it.
    const silent = await silentPeer(listener.port);

    void listener.close().then(() => {
      listenerClosed = true;
    });
    await waitFor(() => silent.dropped(), 3_000, 'the peer mid-handshake to be dropped');
    // The established connection still works both ways.
    conn.send({ type: FrameType.Request, codec: 0, id: 1, metadata: { [MetadataKey.Service]: 'S' } });
    await waitFor(() => server.frames.length === 1, 3_000, 'a request over the open connection');
    server.conns[0]?.send({ type: FrameType.Response, codec: 0, id: 1 });
    await waitFor(() => frames.length === 1, 3_000, 'a response over the open connection');
    expect(server.closes).toEqual([]);
    expect(closes).toEqual([]);
    expect(listenerClosed).toBe(false);
    // Its owner ends it; then close() resolves.
    await conn.end();
    await waitFor(() => listenerClosed, 3_000, 'listener.close() to resolve');
    expect(server.closes).toEqual([undefined]);
    expect(closes).toEqual([undefined]);
  });
});
