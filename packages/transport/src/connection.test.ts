import type { Socket } from 'node:net';
import { connect as netConnect } from 'node:net';
import type { Frame, OutgoingFrame } from '@mini-rpc/protocol';
import {
  Code,
  CodecId,
  createFrameDecoder,
  encodeFrame,
  FrameType,
  MetadataKey,
  ProtocolError,
  RpcError,
} from '@mini-rpc/protocol';
import { describe, expect, it, vi } from 'vitest';
import { useCleanups, waitFor } from '../../../tooling/testing/harness.js';
import type { Connection, ConnectionOptions, Listener } from './index.js';
import { connect, createConnection, listen } from './index.js';

const cleanups = useCleanups();

/** One side of a connection as a test sees it: what arrived, and how it closed. */
interface Side {
  conn: Connection;
  frames: Frame[];
  closes: (RpcError | undefined)[];
  drains: number;
}

function recorder(): { side: Side; handlers: Parameters<typeof createConnection>[1] } {
  const side: Side = { conn: undefined as unknown as Connection, frames: [], closes: [], drains: 0 };
  return {
    side,
    handlers: {
      onFrame: (frame) => side.frames.push({ ...frame, payload: frame.payload.slice() }),
      onClose: (error) => side.closes.push(error),
      onDrain: () => {
        side.drains++;
      },
    },
  };
}

const QUIET: ConnectionOptions = { heartbeatIntervalMs: 0, readTimeoutMs: 0, writeTimeoutMs: 0 };

async function startListener(onSocket: (socket: Socket) => void, maxConnections?: number): Promise<Listener> {
  const sockets = new Set<Socket>();
  const listener = await listen({
    onSocket: (socket) => {
      sockets.add(socket);
      onSocket(socket);
    },
    ...(maxConnections === undefined ? {} : { maxConnections }),
  });
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return listener.close();
  });
  return listener;
}

/**
 * Two framed connections over real TCP on 127.0.0.1. `beforeAccept` sees the accepted socket before it is
 * wrapped (to spy on it).
 */
async function pair(
  options: { client?: ConnectionOptions; server?: ConnectionOptions } = {},
  beforeAccept?: (socket: Socket) => void,
): Promise<{ client: Side; server: Side; serverSocket: Socket }> {
  let accepted!: (v: { side: Side; socket: Socket }) => void;
  const acceptedP = new Promise<{ side: Side; socket: Socket }>((r) => {
    accepted = r;
  });
  const listener = await startListener((socket) => {
    beforeAccept?.(socket);
    const { side, handlers } = recorder();
    side.conn = createConnection(socket, handlers, { ...QUIET, ...options.server });
    accepted({ side, socket });
  });
  const { side, handlers } = recorder();
  const conn = await connect(
    { host: '127.0.0.1', port: listener.port, ...QUIET, ...options.client },
    handlers,
  );
  side.conn = conn;
  cleanups.push(() => conn.close());
  const srv = await acceptedP;
  cleanups.push(() => srv.side.conn.close());
  return { client: side, server: srv.side, serverSocket: srv.socket };
}

/** A peer that speaks raw bytes: records frames it receives, and can stop reading. */
async function rawPeer(options: { paused?: boolean } = {}) {
  const state = {
    socket: undefined as Socket | undefined,
    frames: [] as Frame[],
    bytes: 0,
    ended: false,
    closed: false,
  };
  const listener = await startListener((socket) => {
    state.socket = socket;
    socket.on('error', () => {});
    const decoder = createFrameDecoder((f) => state.frames.push(f));
    socket.on('data', (chunk: Buffer) => {
      state.bytes += chunk.length;
      decoder.push(chunk);
    });
    socket.on('end', () => {
      state.ended = true;
    });
    socket.on('close', () => {
      state.closed = true;
    });
    if (options.paused) socket.pause();
  });
  return { listener, state };
}

const frame = (id: number, payload?: Uint8Array): OutgoingFrame => ({
  type: FrameType.Request,
  codec: CodecId.Json,
  id,
  metadata: { [MetadataKey.Service]: 'S', [MetadataKey.Method]: 'm' },
  ...(payload === undefined ? {} : { payload }),
});

/** Frames in each recorded socket write, when `count` frames of one size were written in all. */
function framesPerWrite(writes: ReturnType<typeof vi.spyOn> | undefined, count: number): number[] {
  const calls: unknown[][] = writes?.mock.calls ?? [];
  const sizes = calls.map((call) => (call[0] as Uint8Array).length);
  const size = sizes.reduce((a, b) => a + b, 0) / count;
  return sizes.map((n) => n / size);
}

describe('write coalescing', () => {
  it('sends every frame queued in one event-loop turn with ONE socket write (batch cap raised)', async () => {
    let writes: ReturnType<typeof vi.spyOn> | undefined;
    const { client, server } = await pair({ server: { maxBatchFrames: 1_000 } }, (socket) => {
      writes = vi.spyOn(socket, 'write');
    });
    for (let id = 1; id <= 100; id++) server.conn.send(frame(id, new Uint8Array([id])));
    await waitFor(() => client.frames.length === 100, 3_000, '100 frames');
    expect(writes?.mock.calls).toHaveLength(1);
    expect(client.frames.map((f) => f.id)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect([...(client.frames[41]?.payload ?? [])]).toEqual([42]);
    expect(client.frames[0]?.metadata[MetadataKey.Service]).toBe('S');
  });

  it('a batch that reaches maxBatchFrames (default 16) leaves at once, the next of the turn at twice that: 100 frames as 16 + 32 + 52, in order', async () => {
    let writes: ReturnType<typeof vi.spyOn> | undefined;
    const { client, server } = await pair({}, (socket) => {
      writes = vi.spyOn(socket, 'write');
    });
    for (let id = 1; id <= 100; id++) server.conn.send(frame(id, new Uint8Array([id])));
    await waitFor(() => client.frames.length === 100, 3_000, '100 frames');
    expect(framesPerWrite(writes, 100)).toEqual([16, 32, 52]);
    expect(client.frames.map((f) => f.id)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('each turn starts at maxBatchFrames again: a burst of 1,000 takes 7 writes, then 40 frames leave as 16 + 24', async () => {
    let writes: ReturnType<typeof vi.spyOn> | undefined;
    const { client, server } = await pair({}, (socket) => {
      writes = vi.spyOn(socket, 'write');
    });
    for (let id = 1; id <= 1_000; id++) server.conn.send(frame(id, new Uint8Array([id & 0xff])));
    await waitFor(() => client.frames.length === 1_000, 3_000, '1,000 frames');
    expect(framesPerWrite(writes, 1_000)).toEqual([16, 32, 64, 128, 256, 504]);
    writes?.mockClear();
    for (let id = 1_001; id <= 1_040; id++) server.conn.send(frame(id, new Uint8Array([id & 0xff])));
    await waitFor(() => client.frames.length === 1_040, 3_000, '40 more frames');
    expect(framesPerWrite(writes, 40)).toEqual([16, 24]);
    expect(client.frames.map((f) => f.id)).toEqual(Array.from({ length: 1_040 }, (_, i) => i + 1));
  });

  it('with maxBatchFrames 1, a frame sent alone in its turn is written at once, turn after turn', async () => {
    let writes: ReturnType<typeof vi.spyOn> | undefined;
    const { client, server } = await pair({ server: { maxBatchFrames: 1 } }, (socket) => {
      writes = vi.spyOn(socket, 'write');
    });
    for (let id = 1; id <= 3; id++) {
      server.conn.send(frame(id, new Uint8Array([id])));
      // Written inside send(), not at the end of the turn: the last turn's doubling did not carry over.
      expect(writes?.mock.calls).toHaveLength(id);
      await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => client.frames.length === 3, 3_000, '3 frames');
  });

  it('a lower maxBatchFrames doubles the same way: 7 frames at 1 leave as 1 + 2 + 4', async () => {
    let writes: ReturnType<typeof vi.spyOn> | undefined;
    const { client, server } = await pair({ server: { maxBatchFrames: 1 } }, (socket) => {
      writes = vi.spyOn(socket, 'write');
    });
    for (let id = 1; id <= 7; id++) server.conn.send(frame(id, new Uint8Array([id])));
    await waitFor(() => client.frames.length === 7, 3_000, '7 frames');
    expect(framesPerWrite(writes, 7)).toEqual([1, 2, 4]);
  });

  it('a batch that reaches maxBatchBytes leaves at once', async () => {
    let writes: ReturnType<typeof vi.spyOn> | undefined;
    const { client, server } = await pair({ server: { maxBatchBytes: 4 * 1024 } }, (socket) => {
      writes = vi.spyOn(socket, 'write');
    });
    for (let id = 1; id <= 8; id++) server.conn.send(frame(id, new Uint8Array(1024)));
    await waitFor(() => client.frames.length === 8, 3_000, '8 frames');
    // Each frame is ~1.1 KiB with its header and metadata bound: a write every 4 frames.
    expect(writes?.mock.calls).toHaveLength(2);
  });

  it('frames queued by promise continuations of the same turn join the batch', async () => {
    let writes: ReturnType<typeof vi.spyOn> | undefined;
    const { client, server } = await pair({}, (socket) => {
      writes = vi.spyOn(socket, 'write');
    });
    server.conn.send(frame(1));
    let p: Promise<unknown> = Promise.resolve();
    for (let id = 2; id <= 10; id++) p = p.then(() => server.conn.send(frame(id)));
    await p;
    await waitFor(() => client.frames.length === 10, 3_000, '10 frames');
    expect(writes?.mock.calls).toHaveLength(1);
  });

  it('frames of different turns leave in separate writes', async () => {
    let writes: ReturnType<typeof vi.spyOn> | undefined;
    const { client, server } = await pair({}, (socket) => {
      writes = vi.spyOn(socket, 'write');
    });
    server.conn.send(frame(1));
    await waitFor(() => client.frames.length === 1, 3_000, 'first frame');
    server.conn.send(frame(2));
    server.conn.send(frame(3));
    await waitFor(() => client.frames.length === 3, 3_000, 'two more frames');
    expect(writes?.mock.calls).toHaveLength(2);
  });
});

describe('send limits', () => {
  it('refuses a payload over maxPayload with ResourceExhausted and stays usable', async () => {
    const { client, server } = await pair({ server: { maxPayload: 100 } });
    expect(() => server.conn.send(frame(1, new Uint8Array(101)))).toThrow(
      expect.objectContaining({ code: Code.ResourceExhausted }),
    );
    server.conn.send(frame(2, new Uint8Array(100)));
    await waitFor(() => client.frames.length === 1, 3_000, 'the frame at the limit');
    expect(client.frames[0]?.payload.length).toBe(100);
  });

  it('refuses metadata over maxMetadata with ResourceExhausted for that frame only; frames around it arrive', async () => {
    // The peer has the same limit: a block over it would make the peer close the connection, failing every call.
    const limits = { maxMetadata: 1024 };
    const { client, server } = await pair({ client: limits, server: limits });
    server.conn.send(frame(1));
    // 1,024 bytes of value alone, plus the pairs of frame(): over the limit.
    expect(() => server.conn.send({ ...frame(2), metadata: { k: 'x'.repeat(1024) } })).toThrow(
      expect.objectContaining({ code: Code.ResourceExhausted }),
    );
    // Its cheap bound (3 bytes per UTF-16 unit) is over the limit, its exact size (1,007 bytes) is not: sent.
    server.conn.send({ ...frame(3), metadata: { k: 'x'.repeat(1000) } });
    server.conn.send(frame(4));
    await waitFor(() => client.frames.length === 3, 3_000, 'frames 1, 3 and 4');
    expect(client.frames.map((f) => f.id)).toEqual([1, 3, 4]);
    expect(client.frames[1]?.metadata.k).toHaveLength(1000);
    expect(server.conn.closed).toBe(false);
    expect(server.closes).toEqual([]);
    expect(client.closes).toEqual([]);
  });

  it('a metadata key over 65,535 UTF-8 bytes throws InvalidArgument for that frame only, even under a large maxMetadata', async () => {
    const limits = { maxMetadata: 1 << 20 };
    const { client, server } = await pair({ client: limits, server: limits });
    server.conn.send(frame(1));
    // 65,536 ASCII bytes, and 21,846 '€' (65,538 UTF-8 bytes in fewer than 65,535 UTF-16 units).
    for (const key of ['k'.repeat(65_536), '€'.repeat(21_846)]) {
      expect(() => server.conn.send({ ...frame(2), metadata: { [key]: 'v' } })).toThrow(
        expect.objectContaining({ code: Code.InvalidArgument }),
      );
    }
    server.conn.send({ ...frame(3), metadata: { ['k'.repeat(65_535)]: 'v' } }); // the longest key there is
    await waitFor(() => client.frames.length === 2, 3_000, 'frames 1 and 3');
    expect(client.frames.map((f) => f.id)).toEqual([1, 3]);
    expect(client.frames[1]?.metadata['k'.repeat(65_535)]).toBe('v');
    expect(server.conn.closed).toBe(false);
    expect(server.closes).toEqual([]);
    expect(client.closes).toEqual([]);
  });

  it('a frame type or codec id the peer would refuse throws InvalidArgument for that frame only', async () => {
    const { client, server } = await pair();
    server.conn.send(frame(1));
    // Type 5 made the peer close the connection (bad_type); type 0x100 went out as a Request.
    for (const bad of [{ type: 5 }, { type: 0x100 }, { codec: 3 }, { codec: 0x102 }]) {
      expect(() => server.conn.send({ ...frame(2), ...bad } as OutgoingFrame), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: Code.InvalidArgument }),
      );
    }
    server.conn.send(frame(3));
    await waitFor(() => client.frames.length === 2, 3_000, 'frames 1 and 3');
    expect(client.frames.map((f) => [f.id, f.type, f.codec])).toEqual([
      [1, FrameType.Request, CodecId.Json],
      [3, FrameType.Request, CodecId.Json],
    ]);
    expect(server.conn.closed).toBe(false);
    expect(server.closes).toEqual([]);
    expect(client.closes).toEqual([]);
  });

  it('send after close throws Unavailable', async () => {
    const { client } = await pair();
    client.conn.close();
    expect(() => client.conn.send(frame(1))).toThrow(expect.objectContaining({ code: Code.Unavailable }));
    expect(client.conn.closed).toBe(true);
    expect(client.conn.writable).toBe(false);
  });
});

describe('backpressure', () => {
  /** Sends 1 MiB frames, one per turn, until the socket pushes back. Bounded: 64 MiB. */
  async function fillUntilBlocked(conn: Connection): Promise<number> {
    for (let id = 1; id <= 64; id++) {
      conn.send(frame(id, new Uint8Array(1 << 20)));
      await new Promise((r) => setImmediate(r));
      if (!conn.writable) return id;
    }
    throw new Error('the socket never pushed back');
  }

  /** A connection to a peer that reads nothing, already pushed back (`sent` frames of 1 MiB went out). */
  async function blockedConnection(maxQueuedBytes: number) {
    const peer = await rawPeer({ paused: true });
    const { side, handlers } = recorder();
    const conn = await connect(
      { host: '127.0.0.1', port: peer.listener.port, ...QUIET, maxQueuedBytes },
      handlers,
    );
    cleanups.push(() => conn.close());
    const sent = await fillUntilBlocked(conn);
    return { peer, side, conn, sent };
  }

  /**
   * Sends `make(i)` for i = 0, 1, … until `send` refuses one (at most `limit` tries); `check` runs after
   * every try. Returns how many were queued and the error of the refusal.
   */
  function sendUntilRefused(
    conn: Connection,
    make: (i: number) => OutgoingFrame,
    limit: number,
    check?: () => void,
  ): { queued: number; refused: RpcError } {
    let queued = 0;
    for (let i = 0; i < limit; i++) {
      try {
        conn.send(make(i));
        queued++;
      } catch (err) {
        expect(err).toBeInstanceOf(RpcError);
        return { queued, refused: err as RpcError };
      } finally {
        check?.();
      }
    }
    throw new Error(`send() accepted ${limit} frames`);
  }

  it('after the socket pushed back and drained, batches start at maxBatchFrames again', async () => {
    let writes: ReturnType<typeof vi.spyOn> | undefined;
    let accepted!: (side: Side) => void;
    const sideP = new Promise<Side>((r) => {
      accepted = r;
    });
    const listener = await startListener((socket) => {
      writes = vi.spyOn(socket, 'write');
      const { side, handlers } = recorder();
      side.conn = createConnection(socket, handlers, QUIET);
      accepted(side);
    });
    // A raw client that reads nothing until told to.
    const raw = netConnect(listener.port, '127.0.0.1');
    raw.pause();
    let received = 0;
    raw.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    cleanups.push(() => raw.destroy());
    const side = await sideP;
    // 1 MiB frames exceed maxBatchBytes: each leaves early and doubles the turn's batch size, the last
    // one into a socket that pushes back, so no end-of-turn flush comes to start the batches small again.
    await fillUntilBlocked(side.conn);
    raw.resume();
    await waitFor(() => side.drains > 0, 5_000, 'onDrain');
    const bytesOf = (): number =>
      (writes?.mock.calls ?? []).reduce(
        (n: number, call: unknown[]) => n + (call[0] as Uint8Array).length,
        0,
      );
    const blockedBytes = bytesOf();
    writes?.mockClear();
    for (let id = 1; id <= 40; id++) side.conn.send(frame(id, new Uint8Array([id])));
    await waitFor(() => (writes?.mock.calls.length ?? 0) >= 2, 3_000, 'the writes of 40 frames');
    await new Promise((r) => setImmediate(r));
    expect(framesPerWrite(writes, 40)).toEqual([16, 24]);
    // Every byte written, before the push-back and after it, reaches the peer.
    const total = blockedBytes + bytesOf();
    await waitFor(() => received === total, 5_000, `${total} bytes at the peer`);
    expect(side.closes).toEqual([]);
  });

  it('a peer that does not read: writable goes false, the queue is bounded, onDrain fires once it reads', async () => {
    const { peer, side, conn, sent } = await blockedConnection(2 << 20);
    expect(conn.writable).toBe(false);
    // While blocked, frames wait in the queue up to maxQueuedBytes, then send() refuses.
    const { queued, refused } = sendUntilRefused(
      conn,
      (i) => frame(1000 + i, new Uint8Array(512 << 10)),
      100,
      () => expect(conn.queuedBytes).toBeLessThanOrEqual(2 << 20),
    );
    expect(refused.code).toBe(Code.ResourceExhausted);
    // Whole frames count (header and metadata too), so three 512 KiB payloads fit in 2 MiB and a fourth does not.
    expect(queued).toBe(3);
    expect(conn.queuedBytes).toBe(3 * (512 << 10));
    expect(side.drains).toBe(0);
    peer.state.socket?.resume();
    await waitFor(() => side.drains > 0, 5_000, 'onDrain');
    expect(conn.writable).toBe(true);
    expect(conn.queuedBytes).toBe(0);
    await waitFor(() => peer.state.frames.length === sent + queued, 5_000, 'every accepted frame');
    expect(peer.state.frames.map((f) => f.id).slice(-queued)).toEqual([1000, 1001, 1002]);
    expect(side.closes).toEqual([]);
  });

  it('whole frames count against maxQueuedBytes: metadata-only frames are refused once it is reached', async () => {
    const { peer, side, conn, sent } = await blockedConnection(1 << 20);
    const big = 'x'.repeat(60_000);
    // No payload: only their metadata counts.
    const { queued, refused } = sendUntilRefused(
      conn,
      (i) => ({ ...frame(1000 + i), metadata: { k: big } }),
      100,
    );
    expect(refused.code).toBe(Code.ResourceExhausted);
    expect(queued).toBeGreaterThan(0);
    // Frames without a payload may use a sixteenth more than maxQueuedBytes (room for error answers).
    expect(queued * big.length).toBeLessThanOrEqual((1 << 20) + (1 << 16));
    peer.state.socket?.resume();
    await waitFor(() => peer.state.frames.length === sent + queued, 5_000, 'every accepted frame');
    expect(peer.state.frames.at(-1)?.metadata.k).toBe(big);
    expect(side.closes).toEqual([]);
  });

  it('a frame without a payload (an error answer) still queues when payload frames no longer fit', async () => {
    const { peer, side, conn, sent } = await blockedConnection(1 << 20);
    const { queued, refused } = sendUntilRefused(conn, (i) => frame(1000 + i, new Uint8Array(16)), 1_000_000);
    expect(refused.code).toBe(Code.ResourceExhausted);
    const error = {
      type: FrameType.Response,
      codec: CodecId.Json,
      id: 1,
      metadata: { [MetadataKey.Status]: String(Code.ResourceExhausted), [MetadataKey.Message]: 'no room' },
    };
    conn.send(error);
    peer.state.socket?.resume();
    await waitFor(() => peer.state.frames.length === sent + queued + 1, 5_000, 'every accepted frame');
    expect(peer.state.frames.at(-1)?.metadata[MetadataKey.Message]).toBe('no room');
    expect(side.closes).toEqual([]);
  });

  it('control frames (Cancel, GoAway) still queue when the write queue is full', async () => {
    const { peer, side, conn, sent } = await blockedConnection(1 << 20);
    const large = sendUntilRefused(conn, (i) => frame(1000 + i, new Uint8Array(256 << 10)), 100);
    expect(large.refused.code).toBe(Code.ResourceExhausted);
    // Fill the rest with Requests as small as a Cancel, until one of those is refused too.
    const small = sendUntilRefused(
      conn,
      (i) => ({ type: FrameType.Request, codec: CodecId.Json, id: 2000 + i }),
      1_000_000,
    );
    expect(small.refused.code).toBe(Code.ResourceExhausted);
    const queued = large.queued + small.queued;
    conn.send({ type: FrameType.Cancel, codec: 0, id: 7 });
    conn.goAway(Code.Unavailable, 'shutting down', 7);
    peer.state.socket?.resume();
    await waitFor(() => peer.state.frames.length === sent + queued + 2, 5_000, 'every accepted frame');
    expect(peer.state.frames.slice(-2).map((f) => f.type)).toEqual([FrameType.Cancel, FrameType.GoAway]);
    expect(side.closes).toEqual([]);
  });

  it('the write timeout closes a connection whose peer never reads, with Unavailable', async () => {
    const peer = await rawPeer({ paused: true });
    const { side, handlers } = recorder();
    const conn = await connect(
      { host: '127.0.0.1', port: peer.listener.port, ...QUIET, writeTimeoutMs: 150 },
      handlers,
    );
    cleanups.push(() => conn.close());
    await fillUntilBlocked(conn);
    const t0 = Date.now();
    await waitFor(() => side.closes.length > 0, 3_000, 'write timeout');
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(side.closes).toHaveLength(1);
    expect(side.closes[0]?.code).toBe(Code.Unavailable);
    expect(side.closes[0]?.message).toMatch(/not reading/);
    expect(conn.closed).toBe(true);
  });

  it('end() resolves even when the peer never reads (bounded by the write timeout)', async () => {
    const peer = await rawPeer({ paused: true });
    const { handlers } = recorder();
    const conn = await connect(
      { host: '127.0.0.1', port: peer.listener.port, ...QUIET, writeTimeoutMs: 150 },
      handlers,
    );
    cleanups.push(() => conn.close());
    await fillUntilBlocked(conn);
    conn.send(frame(999, new Uint8Array(1 << 20)));
    const t0 = Date.now();
    await conn.end();
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(conn.closed).toBe(true);
  });

  it('end() while the peer never reads: once the guard of writeTimeoutMs fires, onClose(Unavailable), not a clean close', async () => {
    const peer = await rawPeer({ paused: true });
    const { side, handlers } = recorder();
    // Long enough that the connection's own timer (a tick every 25 s) plays no part: end()'s guard closes it.
    const conn = await connect(
      { host: '127.0.0.1', port: peer.listener.port, ...QUIET, writeTimeoutMs: 100_000 },
      handlers,
    );
    cleanups.push(() => conn.close());
    await fillUntilBlocked(conn);
    let ended: Promise<void> | undefined;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      ended = conn.end();
      vi.advanceTimersByTime(99_999);
      expect(side.closes).toEqual([]);
      vi.advanceTimersByTime(1);
    } finally {
      vi.useRealTimers();
    }
    await ended;
    expect(side.closes).toHaveLength(1);
    expect(side.closes[0]?.code).toBe(Code.Unavailable);
    expect(side.closes[0]?.message).toMatch(/did not read the last frames/);
    expect(conn.closed).toBe(true);
  });

  it('end() whose frames were all taken closes cleanly at the guard, though the peer never half-closes', async () => {
    const peer = await rawPeer(); // reads everything, never ends its side
    const { side, handlers } = recorder();
    const conn = await connect(
      { host: '127.0.0.1', port: peer.listener.port, ...QUIET, writeTimeoutMs: 200 },
      handlers,
    );
    cleanups.push(() => conn.close());
    for (let id = 1; id <= 3; id++) conn.send(frame(id, new Uint8Array(100)));
    const ended = conn.end();
    await waitFor(() => peer.state.ended, 3_000, 'the peer to read everything and the FIN');
    expect(peer.state.frames.map((f) => f.id)).toEqual([1, 2, 3]);
    await ended;
    expect(side.closes).toEqual([undefined]);
  });
});

describe('heartbeats and liveness', () => {
  it('an idle connection sends Heartbeat frames (id 0, codec 0, empty)', async () => {
    const peer = await rawPeer();
    const { handlers } = recorder();
    const conn = await connect(
      { host: '127.0.0.1', port: peer.listener.port, ...QUIET, heartbeatIntervalMs: 20 },
      handlers,
    );
    cleanups.push(() => conn.close());
    await waitFor(() => peer.state.frames.length >= 3, 3_000, 'three heartbeats');
    for (const f of peer.state.frames) {
      expect(f.type).toBe(FrameType.Heartbeat);
      expect(f.id).toBe(0);
      expect(f.codec).toBe(0);
      expect(f.payload.length).toBe(0);
      expect(Object.keys(f.metadata)).toEqual([]);
    }
  });

  it('a busy connection carries no heartbeats: any write resets the timer', async () => {
    const peer = await rawPeer();
    const { handlers } = recorder();
    const conn = await connect(
      { host: '127.0.0.1', port: peer.listener.port, ...QUIET, heartbeatIntervalMs: 200 },
      handlers,
    );
    cleanups.push(() => conn.close());
    // A frame every 20 ms for ~600 ms: three heartbeat intervals with no idle gap.
    for (let id = 1; id <= 30; id++) {
      conn.send(frame(id));
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => peer.state.frames.length >= 30, 3_000, '30 frames');
    expect(peer.state.frames.filter((f) => f.type === FrameType.Heartbeat)).toEqual([]);
  });

  it('heartbeats keep the peer alive and never reach onFrame', async () => {
    let chunks = 0;
    const { client, server } = await pair(
      { client: { heartbeatIntervalMs: 15 }, server: { readTimeoutMs: 100 } },
      (socket) => socket.on('data', () => chunks++),
    );
    // Twenty heartbeats take ~300 ms: three times the server's read timeout.
    await waitFor(() => chunks >= 20, 5_000, '20 heartbeats');
    expect(server.frames).toEqual([]);
    expect(server.conn.closed).toBe(false);
    expect(server.closes).toEqual([]);
    expect(client.closes).toEqual([]);
  });

  it('closes a silent peer after readTimeoutMs with Unavailable', async () => {
    const peer = await rawPeer();
    const { side, handlers } = recorder();
    const t0 = Date.now();
    const conn = await connect(
      { host: '127.0.0.1', port: peer.listener.port, ...QUIET, readTimeoutMs: 120 },
      handlers,
    );
    cleanups.push(() => conn.close());
    await waitFor(() => side.closes.length > 0, 3_000, 'read timeout');
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(110);
    expect(elapsed).toBeLessThan(1_000);
    expect(side.closes[0]?.code).toBe(Code.Unavailable);
    expect(side.closes[0]?.message).toMatch(/silent/);
    await waitFor(() => peer.state.ended || peer.state.closed, 3_000, 'the peer to see the close');
  });

  it('any byte from the peer counts as life, not only heartbeats', async () => {
    const { client, server } = await pair({ server: { readTimeoutMs: 100 } });
    for (let id = 1; id <= 20; id++) {
      client.conn.send(frame(id));
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => server.frames.length === 20, 3_000, '20 frames');
    expect(server.closes).toEqual([]);
  });
});

describe('liveness of a peer that half-closed', () => {
  /** Polls `condition` every 5 ms for up to 3 s of real time (Date may be faked here). */
  async function until(condition: () => boolean, what: string): Promise<void> {
    const started = performance.now();
    while (!condition()) {
      if (performance.now() - started > 3_000) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  it('is not declared silent after readTimeoutMs: it can send nothing more, and still reads the answers', async () => {
    // Time is the subject: the liveness timer and its clock are fake, the sockets real.
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
    cleanups.push(() => vi.useRealTimers());
    const sides: Side[] = [];
    let ends = 0;
    const listener = await startListener((socket) => {
      const { side, handlers } = recorder();
      // A server answers the calls it accepted before it ends its side (it overrides onEnd).
      side.conn = createConnection(
        socket,
        { ...handlers, onEnd: () => ends++ },
        { ...QUIET, readTimeoutMs: 100 },
      );
      sides.push(side);
    });
    const rawClient = async () => {
      const socket = netConnect({ host: '127.0.0.1', port: listener.port });
      socket.on('error', () => {});
      cleanups.push(() => socket.destroy());
      const frames: Frame[] = [];
      const decoder = createFrameDecoder((f) => frames.push(f));
      socket.on('data', (chunk: Buffer) => decoder.push(chunk));
      await new Promise<void>((r) => socket.once('connect', () => r()));
      return { socket, frames };
    };
    const caller = await rawClient();
    await until(() => sides.length === 1, 'the first accept');
    await rawClient(); // a peer that connects and says nothing: the control
    await until(() => sides.length === 2, 'the second accept');
    const [callerSide, silentSide] = sides as [Side, Side];
    caller.socket.end(encodeFrame(frame(1))); // a call, then a half-close: it waits for the answer
    await until(() => callerSide.frames.length === 1 && ends === 1, 'the call and the half-close');

    vi.advanceTimersByTime(1_000); // ten read timeouts
    // A passed deadline is confirmed in the check phase, after the poll (setImmediate is not faked here).
    await until(() => silentSide.closes.length > 0, 'the silent peer to be closed');
    expect(silentSide.closes[0]?.message).toMatch(/silent/); // the timers did run
    expect(callerSide.closes).toEqual([]);
    expect(callerSide.conn.closed).toBe(false);

    callerSide.conn.send({ type: FrameType.Response, codec: 0, id: 1, payload: new Uint8Array([0x33]) });
    await until(() => caller.frames.length === 1, 'the answer');
    expect(caller.frames[0]?.id).toBe(1);
    await callerSide.conn.end();
    expect(callerSide.closes).toEqual([undefined]);
  });
});

describe('goAway, terminate, end, close', () => {
  it('goAway() sends a GoAway with the last id, status and message; the connection stays usable', async () => {
    const { client, server } = await pair();
    server.conn.goAway(Code.Unavailable, 'shutting down', 41);
    server.conn.send({ type: FrameType.Response, codec: 0, id: 41 });
    await waitFor(() => client.frames.length === 2, 3_000, 'GoAway and Response');
    const [goAway, response] = client.frames;
    expect(goAway?.type).toBe(FrameType.GoAway);
    expect(goAway?.id).toBe(41);
    expect(goAway?.metadata[MetadataKey.Status]).toBe(String(Code.Unavailable));
    expect(goAway?.metadata[MetadataKey.Message]).toBe('shutting down');
    expect(response?.type).toBe(FrameType.Response);
    expect(server.conn.closed).toBe(false);
  });

  it('goAway() with OK sends no status, and lastId defaults to 0', async () => {
    const { client, server } = await pair();
    server.conn.goAway(Code.OK, 'draining');
    await waitFor(() => client.frames.length === 1, 3_000, 'GoAway');
    expect(client.frames[0]?.id).toBe(0);
    expect(client.frames[0]?.metadata[MetadataKey.Status]).toBeUndefined();
    expect(client.frames[0]?.metadata[MetadataKey.Message]).toBe('draining');
  });

  it('terminate() tells the peer why, drops queued frames, closes, and calls onClose at once', async () => {
    const { client, server } = await pair();
    server.conn.send(frame(1)); // queued in this turn: dropped by terminate
    const error = new RpcError(Code.InvalidArgument, 'you broke the protocol');
    server.conn.terminate(error);
    expect(server.conn.closed).toBe(true);
    expect(server.closes).toEqual([error]);
    expect(() => server.conn.send(frame(2))).toThrow(expect.objectContaining({ code: Code.Unavailable }));
    await waitFor(() => client.closes.length > 0, 3_000, 'the peer to close');
    expect(client.frames.map((f) => f.type)).toEqual([FrameType.GoAway]);
    expect(client.frames[0]?.metadata[MetadataKey.Status]).toBe(String(Code.InvalidArgument));
    expect(client.frames[0]?.metadata[MetadataKey.Message]).toBe('you broke the protocol');
    server.conn.terminate(error);
    server.conn.close();
    expect(server.closes).toHaveLength(1);
  });

  it('end() flushes what is queued, and both sides close cleanly (onClose without error)', async () => {
    const { client, server } = await pair();
    for (let id = 1; id <= 5; id++) server.conn.send(frame(id));
    const ended = server.conn.end();
    expect(() => server.conn.send(frame(6))).toThrow(expect.objectContaining({ code: Code.Unavailable }));
    expect(server.conn.end()).toBe(ended);
    await ended;
    await waitFor(() => client.closes.length > 0, 3_000, 'the peer to close');
    expect(client.frames.map((f) => f.id)).toEqual([1, 2, 3, 4, 5]);
    expect(server.closes).toEqual([undefined]);
    expect(client.closes).toEqual([undefined]);
  });

  it('a peer half-close goes to onEnd when given; this side may still send, then end()', async () => {
    const peer = await rawPeer();
    let ended = 0;
    const closes: (RpcError | undefined)[] = [];
    const conn = await connect(
      { host: '127.0.0.1', port: peer.listener.port, ...QUIET },
      { onFrame: () => {}, onEnd: () => ended++, onClose: (e) => closes.push(e) },
    );
    cleanups.push(() => conn.close());
    await waitFor(() => peer.state.socket !== undefined, 3_000, 'accept');
    peer.state.socket?.end();
    await waitFor(() => ended === 1, 3_000, 'onEnd');
    expect(conn.closed).toBe(false);
    conn.send(frame(7));
    await conn.end();
    expect(peer.state.frames.map((f) => f.id)).toEqual([7]);
    expect(closes).toEqual([undefined]);
  });

  it('close(error) destroys at once: queued frames are dropped, onClose gets the error exactly once', async () => {
    const { client, server } = await pair();
    server.conn.send(frame(1));
    const error = new RpcError(Code.Unavailable, 'bye');
    server.conn.close(error);
    server.conn.close(new RpcError(Code.Internal, 'again'));
    expect(server.closes).toEqual([error]);
    expect(server.conn.queuedBytes).toBe(0);
    await waitFor(() => client.closes.length > 0, 3_000, 'the peer to close');
    expect(client.frames).toEqual([]);
    expect(client.conn.closed).toBe(true);
  });
});

describe('a frame whose onFrame closes the connection', () => {
  it.each(['close', 'terminate'] as const)(
    'the frames after it in the same chunk are not delivered (%s)',
    async (how) => {
      const delivered: number[] = [];
      const closes: (RpcError | undefined)[] = [];
      const listener = await startListener((socket) => {
        createConnection(
          socket,
          {
            onFrame: (f, conn) => {
              delivered.push(f.id);
              if (f.id !== 1) return;
              const error = new RpcError(Code.InvalidArgument, 'duplicate request id 1');
              if (how === 'close') conn.close(error);
              else conn.terminate(error);
            },
            onClose: (error) => closes.push(error),
          },
          QUIET,
        );
      });
      const raw = netConnect({ host: '127.0.0.1', port: listener.port });
      raw.on('error', () => {});
      cleanups.push(() => raw.destroy());
      let rawClosed = false;
      raw.on('close', () => {
        rawClosed = true;
      });
      raw.resume(); // read (and drop) terminate()'s GoAway, so its FIN is seen
      await new Promise<void>((r) => raw.once('connect', () => r()));
      // One write of three frames: they reach the server's decoder in one chunk.
      const ids = [1, 2, 3];
      raw.write(Buffer.concat(ids.map((id) => encodeFrame({ type: FrameType.Cancel, codec: 0, id }))));
      await waitFor(() => rawClosed, 3_000, 'the server to close the connection');
      expect(delivered).toEqual([1]);
      expect(closes).toHaveLength(1);
      expect(closes[0]?.code).toBe(Code.InvalidArgument);
    },
  );
});

describe('bad bytes from the peer', () => {
  it('a ProtocolError closes only that connection, with a GoAway that says why', async () => {
    const conns: Side[] = [];
    const listener = await startListener((socket) => {
      const { side, handlers } = recorder();
      side.conn = createConnection(socket, handlers, QUIET);
      conns.push(side);
    });
    const { side: good, handlers } = recorder();
    const goodConn = await connect({ host: '127.0.0.1', port: listener.port, ...QUIET }, handlers);
    cleanups.push(() => goodConn.close());

    const bad = netConnect({ host: '127.0.0.1', port: listener.port });
    cleanups.push(() => bad.destroy());
    bad.on('error', () => {});
    const received: Frame[] = [];
    const decoder = createFrameDecoder((f) => received.push(f));
    bad.on('data', (c: Buffer) => decoder.push(c));
    const badClosed = new Promise<void>((r) => bad.once('close', () => r()));
    await new Promise<void>((r) => bad.once('connect', () => r()));
    await waitFor(() => conns.length === 2, 3_000, 'two accepted');
    bad.write(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    await badClosed;

    expect(received).toHaveLength(1);
    expect(received[0]?.type).toBe(FrameType.GoAway);
    expect(received[0]?.metadata[MetadataKey.Status]).toBe(String(Code.InvalidArgument));
    expect(received[0]?.metadata[MetadataKey.Message]).toMatch(/bad_magic/);
    const badSide = conns[1];
    expect(badSide?.closes).toHaveLength(1);
    expect(badSide?.closes[0]).toBeInstanceOf(ProtocolError);

    // The other connection still works both ways.
    const goodServer = conns[0];
    goodConn.send(frame(5));
    await waitFor(() => goodServer?.frames.length === 1, 3_000, 'frame on the good connection');
    goodServer?.conn.send({ type: FrameType.Response, codec: 0, id: 5 });
    await waitFor(() => good.frames.length === 1, 3_000, 'response on the good connection');
    expect(goodServer?.closes).toEqual([]);
  });

  it('an over-limit header is refused with ResourceExhausted before its body arrives', async () => {
    const { client, server, serverSocket } = await pair({ client: { maxPayload: 1024 } });
    const header = encodeFrame({ type: FrameType.Response, codec: 0, id: 1 });
    new DataView(header.buffer, header.byteOffset).setUint32(13, 1 << 30);
    serverSocket.write(header);
    await waitFor(() => server.frames.length > 0 || server.closes.length > 0, 3_000, 'GoAway or close');
    expect(client.closes[0]?.code).toBe(Code.ResourceExhausted);
    expect(server.frames[0]?.type).toBe(FrameType.GoAway);
    expect(server.frames[0]?.metadata[MetadataKey.Status]).toBe(String(Code.ResourceExhausted));
  });

  it('the stream ending inside a frame closes with InvalidArgument (truncated)', async () => {
    const { client, serverSocket } = await pair();
    const bytes = encodeFrame(frame(3, new Uint8Array(10)));
    serverSocket.end(bytes.subarray(0, bytes.length - 1));
    await waitFor(() => client.closes.length > 0, 3_000, 'close');
    expect(client.frames).toEqual([]);
    expect(client.closes[0]?.code).toBe(Code.InvalidArgument);
    expect(client.closes[0]?.message).toMatch(/truncated/);
  });
});

describe('identity', () => {
  it('gives each connection a unique id and the peer address', async () => {
    const a = await pair();
    const b = await pair();
    const ids = new Set([a.client.conn.id, a.server.conn.id, b.client.conn.id, b.server.conn.id]);
    expect(ids.size).toBe(4);
    expect(a.client.conn.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(a.server.conn.remoteAddress).toBe(`127.0.0.1:${(a.serverSocket.remotePort as number).toString()}`);
  });
});
