import { createServer } from 'node:net';
import { createFrameSplitter, FrameWriter } from '../length-prefixed.js';
import type { BenchServer, CallCounter } from './bench-server.js';

/** The ceiling: a node:net server echoing u32-length-prefixed frames, batched per tick like mini-rpc. */
export async function startBareServer(counter: CallCounter, batchFrames?: number): Promise<BenchServer> {
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    const writer = new FrameWriter(socket, batchFrames);
    socket.on(
      'data',
      createFrameSplitter((payload) => {
        counter.calls++;
        writer.push(payload);
      }),
    );
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('bare server: no port');
  return {
    port: address.port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
