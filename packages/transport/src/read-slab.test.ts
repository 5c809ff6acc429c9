import type { Socket } from 'node:net';
import { connect as netConnect } from 'node:net';
import type { Frame } from '@mini-rpc/protocol';
import { encodeFrame, FrameType } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { useCleanups, waitFor } from '../../../tooling/testing/harness.js';
import { connect, listen } from './index.js';
import { FIRST_SLAB_BYTES, MIN_READ_ROOM, ReadSlab, SLAB_BYTES } from './read-slab.js';

const cleanups = useCleanups();

/** Plays Node's part: asks for the room, writes `bytes` into it as a read would, reports the count. */
function read(slab: ReadSlab, bytes: Uint8Array): Uint8Array {
  const room = slab.onread.buffer as () => Uint8Array;
  const into = room();
  into.set(bytes);
  (slab.onread.callback as (n: number, buf: Uint8Array) => boolean)(bytes.length, into);
  return into;
}

describe('ReadSlab', () => {
  it('puts each read after the last in one slab, and starts a new slab when the room left is short', () => {
    const slab = new ReadSlab();
    const chunks: Uint8Array[] = [];
    slab.bind((c) => chunks.push(c));
    const first = read(slab, new Uint8Array(1_000).fill(1));
    expect(first.length).toBe(FIRST_SLAB_BYTES);
    const second = read(slab, new Uint8Array(500).fill(2));
    expect(second.buffer).toBe(first.buffer);
    expect(second.byteOffset).toBe(1_000);
    expect(chunks.map((c) => [c.byteOffset, c.length])).toEqual([
      [0, 1_000],
      [1_000, 500],
    ]);
    // Fill the slab until less than a quarter of it is left: the next room is a fresh slab, twice the size.
    const used = 1_500;
    const filler = FIRST_SLAB_BYTES - used - FIRST_SLAB_BYTES / 4 + 1;
    read(slab, new Uint8Array(filler).fill(3));
    const fresh = read(slab, new Uint8Array(10).fill(4));
    expect(fresh.buffer).not.toBe(first.buffer);
    expect(fresh.length).toBe(2 * FIRST_SLAB_BYTES);
    // Nothing handed out earlier was written over.
    expect(chunks[0]?.every((b) => b === 1)).toBe(true);
    expect(chunks[1]?.every((b) => b === 2)).toBe(true);
    expect([...(chunks[3] ?? [])]).toEqual(new Array(10).fill(4));
  });

  it('grows its slabs to SLAB_BYTES as reads keep coming, offering each read a quarter of its slab or more', () => {
    const slab = new ReadSlab();
    slab.bind(() => {});
    const room = slab.onread.buffer as () => Uint8Array;
    const sizes = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const into = read(slab, new Uint8Array(7_919));
      sizes.add(into.buffer.byteLength);
      const next = room();
      expect(next.length).toBeGreaterThanOrEqual(next.buffer.byteLength / 4);
    }
    expect([...sizes]).toEqual([FIRST_SLAB_BYTES, 2 * FIRST_SLAB_BYTES, SLAB_BYTES]);
    // Full size from then on, with Node's own 64 KiB of room.
    for (let i = 0; i < 100; i++) {
      read(slab, new Uint8Array(7_919));
      expect(room().length).toBeGreaterThanOrEqual(MIN_READ_ROOM);
    }
  });

  it('keeps chunks read before a sink is bound and hands them over in order', async () => {
    const listener = await listen({ onSocket: (s) => s.end(Buffer.from('early bytes')) });
    cleanups.push(() => listener.close());
    const slab = new ReadSlab();
    const socket: Socket = netConnect({ host: '127.0.0.1', port: listener.port, onread: slab.onread });
    cleanups.push(() => socket.destroy());
    await waitFor(() => socket.bytesRead === 11);
    const got: string[] = [];
    slab.bind((c) => got.push(Buffer.from(c).toString()));
    expect(got.join('')).toBe('early bytes');
  });
});

/**
 * A server that runs `write` on the socket it accepts, and a client connection to it whose frames (the
 * payload views themselves, not copies) land in the returned array; both are closed after the test.
 */
async function clientOf(write: (server: Socket) => void): Promise<Frame[]> {
  let server: Socket | undefined;
  const listener = await listen({
    onSocket: (s) => {
      server = s;
      write(s);
    },
  });
  cleanups.push(() => {
    server?.destroy();
    return listener.close();
  });
  const frames: Frame[] = [];
  const conn = await connect(
    { host: '127.0.0.1', port: listener.port, heartbeatIntervalMs: 0, readTimeoutMs: 0 },
    { onFrame: (f) => frames.push(f) },
  );
  cleanups.push(() => conn.close());
  return frames;
}

describe('a client connection reading into slabs', () => {
  it('reserves only a first, small slab while it reads little', async () => {
    const payload = new Uint8Array(10).fill(7);
    const frames = await clientOf((s) =>
      s.write(encodeFrame({ type: FrameType.Response, codec: 2, id: 1, payload })),
    );
    await waitFor(() => frames.length === 1);
    expect([...(frames[0]?.payload ?? [])]).toEqual([...payload]);
    expect(frames[0]?.payload.buffer.byteLength).toBe(FIRST_SLAB_BYTES);
  });

  it('keeps every payload view intact across reads and slab changes (4 MiB in frames of odd sizes)', async () => {
    // Frames of 1…9,000 bytes, each filled with its own index: a slab written twice would show up as a
    // payload that no longer holds its index.
    const sent: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; total < 4 * 1024 * 1024; i++) {
      const payload = new Uint8Array(1 + ((i * 7_919) % 9_000)).fill(i & 0xff);
      sent.push(encodeFrame({ type: FrameType.Response, codec: 2, id: i + 1, payload }));
      total += payload.length;
    }
    const frames = await clientOf((s) => {
      // In bursts of a few frames, so reads end inside frames and frames span reads and slabs.
      let i = 0;
      const burst = (): void => {
        if (i >= sent.length) return;
        s.write(Buffer.concat(sent.slice(i, i + 5)), () => setImmediate(burst));
        i += 5;
      };
      burst();
    });
    await waitFor(() => frames.length === sent.length, 10_000);
    // Frames that came whole in one read are views into a slab; those cut across reads were put together
    // in a buffer of their own. The slabs changed many times on the way.
    const slabs = new Set(frames.map((f) => f.payload.buffer).filter((b) => b.byteLength === SLAB_BYTES));
    expect(slabs.size).toBeGreaterThan(8);
    frames.forEach((f, i) => {
      expect(f.id).toBe(i + 1);
      expect(f.payload.length).toBe(1 + ((i * 7_919) % 9_000));
      expect(f.payload.every((b) => b === (i & 0xff))).toBe(true);
    });
  });
});
