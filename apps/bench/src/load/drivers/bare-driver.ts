import { connect } from 'node:net';
import type { ClientSpec } from '../case-spec.js';
import { createFrameSplitter, FrameWriter } from '../length-prefixed.js';
import { payloadBytes } from '../payload.js';
import type { Driver } from './driver.js';

type Waiter = { resolve: (v: Buffer) => void; reject: (e: Error) => void };

/**
 * The ceiling's client: one node:net connection, u32-length-prefixed frames batched per tick, answers
 * matched to calls in order (the echo server answers in order, so no request id is needed).
 */
export async function createBareDriver(spec: ClientSpec): Promise<Driver> {
  const socket = connect({ host: '127.0.0.1', port: spec.ports[0] as number });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.setNoDelay(true);
  const writer = new FrameWriter(socket, spec.batchFrames);
  // A FIFO of waiters on a growable ring: no shifting, no per-call allocation beyond the promise.
  let ring: (Waiter | undefined)[] = new Array(1024);
  let head = 0;
  let size = 0;
  const push = (w: Waiter): void => {
    if (size === ring.length) {
      const bigger: (Waiter | undefined)[] = new Array(ring.length * 2);
      for (let i = 0; i < size; i++) bigger[i] = ring[(head + i) % ring.length];
      ring = bigger;
      head = 0;
    }
    ring[(head + size) % ring.length] = w;
    size++;
  };
  const shift = (): Waiter | undefined => {
    if (size === 0) return undefined;
    const w = ring[head];
    ring[head] = undefined;
    head = (head + 1) % ring.length;
    size--;
    return w;
  };
  socket.on(
    'data',
    createFrameSplitter((payload) => shift()?.resolve(payload)),
  );
  const failAll = (err: Error): void => {
    for (let w = shift(); w !== undefined; w = shift()) w.reject(err);
  };
  socket.on('error', failAll);
  socket.on('close', () => failAll(new Error('bare connection closed')));
  const payload = payloadBytes(spec.size);
  return {
    sent: payload,
    call: () =>
      new Promise<Buffer>((resolve, reject) => {
        push({ resolve, reject });
        writer.push(payload);
      }),
    close: async () => {
      socket.destroy();
    },
  };
}
