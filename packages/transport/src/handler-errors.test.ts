import type { Socket } from 'node:net';
import { connect as netConnect } from 'node:net';
import type { Frame, RpcError } from '@mini-rpc/protocol';
import { Code, CodecId, FrameType, ProtocolError } from '@mini-rpc/protocol';
import { describe, expect, it, vi } from 'vitest';
import { useCleanups, waitFor } from '../../../tooling/testing/harness.js';
import type { Connection, ConnectionHandlers } from './index.js';
import { connect, createConnection, listen } from './index.js';

// Handlers "must not throw"; when one does anyway, that connection fails (or the error is reported), and
// the process, which would otherwise die of an uncaught exception in a socket event, keeps serving.

const cleanups = useCleanups();

const QUIET = { heartbeatIntervalMs: 0, readTimeoutMs: 0, writeTimeoutMs: 0 };

/** Warnings the transport emits, instead of printing them. */
function captureWarnings(): Error[] {
  const warnings: Error[] = [];
  const spy = vi.spyOn(process, 'emitWarning').mockImplementation((w: string | Error) => {
    warnings.push(typeof w === 'string' ? new Error(w) : w);
  });
  cleanups.push(() => spy.mockRestore());
  return warnings;
}

/** A listener whose accepted sockets become connections with `handlers(i)` for the i-th connection. */
async function server(handlers: (i: number) => Partial<ConnectionHandlers>) {
  const conns: Connection[] = [];
  const closes: (RpcError | undefined)[][] = [];
  const sockets: Socket[] = [];
  const listener = await listen({
    onSocket: (socket) => {
      const i = conns.length;
      sockets.push(socket);
      closes.push([]);
      const own = handlers(i);
      conns.push(
        createConnection(
          socket,
          {
            onFrame: () => {},
            ...own,
            onClose: (error, conn) => {
              closes[i]?.push(error);
              own.onClose?.(error, conn);
            },
          },
          QUIET,
        ),
      );
    },
  });
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return listener.close();
  });
  return { listener, conns, closes };
}

/** A client connection that records the frames it gets and how it closed. */
async function client(port: number) {
  const frames: Frame[] = [];
  const closes: (RpcError | undefined)[] = [];
  const conn = await connect(
    { host: '127.0.0.1', port, ...QUIET },
    { onFrame: (f) => frames.push(f), onClose: (e) => closes.push(e) },
  );
  cleanups.push(() => conn.close());
  return { conn, frames, closes };
}

const request = (id: number) => ({ type: FrameType.Request, codec: CodecId.Json, id });

/** Checks that the server still serves a new connection: a Request in, a Response out. */
async function stillServes(port: number, conns: Connection[], answered: number[]): Promise<void> {
  const other = await client(port);
  other.conn.send(request(99));
  await waitFor(() => answered.includes(99), 3_000, 'a call on another connection');
  const conn = conns.at(-1);
  conn?.send({ type: FrameType.Response, codec: 0, id: 99 });
  await waitFor(() => other.frames.length === 1, 3_000, 'its answer');
}

describe('a connection handler that throws', () => {
  it('onFrame: that connection closes with Internal, and the peer is not told it broke the protocol', async () => {
    const answered: number[] = [];
    const { listener, conns, closes } = await server((i) => ({
      onFrame: (f) => {
        answered.push(f.id);
        // A handler bug that happens to be a ProtocolError (encoding a bad frame of its own) is no fault
        // of the peer: it used to get GoAway(InvalidArgument, "protocol error …").
        if (i === 0) throw new ProtocolError('bad_request_id', 'request id -1 is not an integer');
      },
    }));
    const peer = await client(listener.port);
    peer.conn.send(request(1));
    await waitFor(() => closes[0]?.length === 1, 3_000, 'the close');
    expect(closes[0]?.[0]?.code).toBe(Code.Internal);
    expect(closes[0]?.[0]?.message).toMatch(/onFrame threw: .*request id -1/);
    expect(closes[0]?.[0]?.cause).toBeInstanceOf(ProtocolError);
    await waitFor(() => peer.closes.length === 1, 3_000, 'the peer to see the close');
    expect(peer.frames.filter((f) => f.type === FrameType.GoAway)).toEqual([]);
    await stillServes(listener.port, conns, answered);
  });

  it('onClose: the error becomes a process warning; the process keeps serving', async () => {
    const warnings = captureWarnings();
    const answered: number[] = [];
    const boom = new Error('onClose bug');
    const { listener, conns, closes } = await server((i) => ({
      onFrame: (f) => answered.push(f.id),
      onClose: () => {
        if (i === 0) throw boom;
      },
    }));
    const peer = await client(listener.port);
    await waitFor(() => conns.length === 1, 3_000, 'accept');
    peer.conn.close(); // the server's socket closes: its onClose runs inside a socket event
    await waitFor(() => closes[0]?.length === 1, 3_000, 'the close');
    await waitFor(() => warnings.length === 1, 3_000, 'the warning');
    expect(warnings[0]?.name).toBe('MiniRpcListenerWarning');
    expect(warnings[0]?.message).toMatch(/onClose threw: onClose bug/);
    expect(warnings[0]?.cause).toBe(boom);
    expect(conns[0]?.closed).toBe(true);
    await stillServes(listener.port, conns, answered);
  });

  it('onEnd: that connection closes with Internal', async () => {
    const answered: number[] = [];
    const { listener, conns, closes } = await server((i) => ({
      onFrame: (f) => answered.push(f.id),
      onEnd: () => {
        if (i === 0) throw new Error('onEnd bug');
      },
    }));
    const raw = netConnect({ host: '127.0.0.1', port: listener.port });
    raw.on('error', () => {});
    cleanups.push(() => raw.destroy());
    await new Promise<void>((r) => raw.once('connect', () => r()));
    raw.end(); // a half-close: the server's onEnd runs inside the socket's 'end' event
    await waitFor(() => closes[0]?.length === 1, 3_000, 'the close');
    expect(closes[0]?.[0]?.code).toBe(Code.Internal);
    expect(closes[0]?.[0]?.message).toMatch(/onEnd threw: onEnd bug/);
    await stillServes(listener.port, conns, answered);
  });

  it('onDrain: that connection closes with Internal', async () => {
    const answered: number[] = [];
    const { listener, conns, closes } = await server((i) => ({
      onFrame: (f) => answered.push(f.id),
      onDrain: () => {
        if (i === 0) throw new Error('onDrain bug');
      },
    }));
    // A peer that reads nothing until the server's socket pushes back, then everything.
    const raw = netConnect({ host: '127.0.0.1', port: listener.port });
    raw.on('error', () => {});
    cleanups.push(() => raw.destroy());
    raw.pause();
    await new Promise<void>((r) => raw.once('connect', () => r()));
    await waitFor(() => conns.length === 1, 3_000, 'accept');
    const conn = conns[0] as Connection;
    for (let id = 1; id <= 64 && conn.writable; id++) {
      conn.send({ type: FrameType.Response, codec: 0, id, payload: new Uint8Array(1 << 20) });
      await new Promise((r) => setImmediate(r));
    }
    expect(conn.writable).toBe(false);
    raw.resume(); // the server's socket drains: onDrain runs inside the socket's 'drain' event
    await waitFor(() => closes[0]?.length === 1, 5_000, 'the close');
    expect(closes[0]?.[0]?.code).toBe(Code.Internal);
    expect(closes[0]?.[0]?.message).toMatch(/onDrain threw: onDrain bug/);
    await stillServes(listener.port, conns, answered);
  });
});

describe('a listener whose onSocket throws', () => {
  it('destroys that socket, reports the error to onError, and keeps accepting', async () => {
    const errors: Error[] = [];
    const accepted: Connection[] = [];
    const frames: Frame[] = [];
    let calls = 0;
    const listener = await listen({
      onSocket: (socket) => {
        if (calls++ === 0) throw new Error('onSocket bug');
        accepted.push(createConnection(socket, { onFrame: (f) => frames.push(f) }, QUIET));
      },
      onError: (err) => errors.push(err),
    });
    cleanups.push(() => {
      for (const c of accepted) c.close();
      return listener.close();
    });
    const first = netConnect({ host: '127.0.0.1', port: listener.port });
    first.on('error', () => {});
    cleanups.push(() => first.destroy());
    const firstClosed = new Promise<void>((r) => first.once('close', () => r()));
    first.resume();
    await firstClosed;
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toMatch(/onSocket threw: onSocket bug/);
    await waitFor(() => listener.connections === 0, 3_000, 'the count to drop');
    const second = await client(listener.port);
    second.conn.send(request(5));
    await waitFor(() => frames.length === 1, 3_000, 'a frame on the next connection');
    expect(listener.connections).toBe(1);
  });

  it('without onError, reports it as a process warning', async () => {
    const warnings = captureWarnings();
    const listener = await listen({
      onSocket: () => {
        throw new Error('onSocket bug');
      },
    });
    cleanups.push(() => listener.close());
    const raw = netConnect({ host: '127.0.0.1', port: listener.port });
    raw.on('error', () => {});
    cleanups.push(() => raw.destroy());
    raw.resume();
    await new Promise<void>((r) => raw.once('close', () => r()));
    expect(warnings.map((w) => w.message)).toEqual([expect.stringMatching(/onSocket threw: onSocket bug/)]);
  });
});
