import type { Frame, OutgoingFrame } from '@mini-rpc/protocol';
import {
  CodecId,
  createFrameDecoder,
  encodeFrame,
  encodeMetadata,
  FrameType,
  MetadataKey,
  maxFrameSize,
  writeFrame,
} from '@mini-rpc/protocol';
import type { Bench } from 'tinybench';

const label = (size: number): string => (size >= 1024 ? `${size / 1024}KiB` : `${size}B`);

/** Task name of the encodeFrame + decoder.push row for a payload of `size` bytes, in one chunk. */
export const frameTask = (size: number): string => `frame encode+decode ${label(size)} payload`;

/** A request frame as a typed proxy sends it: service and method as pre-encoded metadata. */
function requestFrame(size: number): OutgoingFrame {
  const payload = new Uint8Array(size);
  for (let i = 0; i < size; i++) payload[i] = (i * 31 + 7) & 0xff;
  const rawMetadata = encodeMetadata({ [MetadataKey.Service]: 'Orders', [MetadataKey.Method]: 'place' });
  return { type: FrameType.Request, codec: CodecId.MessagePack, id: 1, rawMetadata, payload };
}

/**
 * Adds frame tasks, all through one long-lived incremental decoder:
 * - `encodeFrame` (a fresh buffer per frame) + `push`, for 64 B and 1 KiB payloads: the target rows;
 * - `writeFrame` into a reused buffer + `push`, 1 KiB: what a transport that batches frames pays;
 * - `push` of a 1 KiB frame in three chunks: the decoder's buffering path.
 */
export function addFrameTasks(bench: Bench): void {
  let decoded = 0;
  let last: Frame | undefined;
  const decoder = createFrameDecoder((frame) => {
    decoded++;
    last = frame;
  });
  for (const size of [64, 1024]) {
    const frame = requestFrame(size);
    bench.add(frameTask(size), () => {
      decoder.push(encodeFrame(frame));
    });
  }
  const frame = requestFrame(1024);
  const scratch = new Uint8Array(maxFrameSize(frame));
  bench.add('frame writeFrame(reused buffer)+decode 1KiB payload', () => {
    decoder.push(scratch.subarray(0, writeFrame(frame, scratch, 0)));
  });
  const whole = encodeFrame(frame);
  const chunks = [whole.subarray(0, 10), whole.subarray(10, 500), whole.subarray(500)];
  bench.add('frame decode 1KiB payload in 3 chunks', () => {
    for (const chunk of chunks) decoder.push(chunk);
  });
  bench.addEventListener('complete', () => {
    if (decoded === 0 || last?.payload.length !== 1024 || decoder.buffered !== 0) {
      throw new Error('the frame decoder did not emit the frames pushed');
    }
  });
}
