import type { AddressInfo, Socket } from 'node:net';
import { connect, createServer } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { useCleanups, waitFor } from '../../../../tooling/testing/harness.js';
import { createFrameSplitter, FrameWriter } from './length-prefixed.js';

const cleanups = useCleanups();

/** A writer on a real loopback connection, its socket's writes spied on, and the frames the peer got. */
async function writerPair(maxFrames?: number) {
  const received: number[] = [];
  const server = createServer((socket) => {
    socket.on(
      'data',
      createFrameSplitter((payload) => received.push(payload[0] ?? -1)),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const socket: Socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await new Promise<void>((r) => socket.once('connect', r));
  cleanups.push(() => {
    socket.destroy();
    server.close();
  });
  const writes = vi.spyOn(socket, 'write');
  const writer = new FrameWriter(socket, maxFrames);
  /** Frames of each write so far (every payload here is 1 byte: 5 bytes a frame). */
  const perWrite = (): number[] => writes.mock.calls.map((call) => (call[0] as Uint8Array).length / 5);
  return { writer, received, perWrite, writes };
}

describe('FrameWriter (the bare echo batches like mini-rpc transport)', () => {
  it('writes a turn in batches of 16, 32, 64, …, and starts the next turn at 16 again', async () => {
    const { writer, received, perWrite, writes } = await writerPair();
    for (let i = 0; i < 100; i++) writer.push(new Uint8Array([i]));
    await waitFor(() => received.length === 100, 3_000, '100 frames');
    expect(perWrite()).toEqual([16, 32, 52]);
    expect(received).toEqual(Array.from({ length: 100 }, (_, i) => i));
    writes.mockClear();
    for (let i = 0; i < 40; i++) writer.push(new Uint8Array([i]));
    await waitFor(() => received.length === 140, 3_000, '40 more frames');
    expect(perWrite()).toEqual([16, 24]);
  });

  it('without a cap (0) writes a turn in one write', async () => {
    const { writer, received, perWrite } = await writerPair(0);
    for (let i = 0; i < 100; i++) writer.push(new Uint8Array([i]));
    await waitFor(() => received.length === 100, 3_000, '100 frames');
    expect(perWrite()).toEqual([100]);
  });
});
