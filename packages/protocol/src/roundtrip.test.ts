import { describe, expect, it } from 'vitest';
import type { Frame } from './index.js';
import { CodecId, createFrameDecoder, encodeFrame, FrameType } from './index.js';

describe('encodeFrame + createFrameDecoder', () => {
  it('round-trips a request split into one-byte chunks', () => {
    const bytes = encodeFrame({
      type: FrameType.Request,
      codec: CodecId.MessagePack,
      id: 2 ** 40 + 7,
      metadata: { ':s': 'Arith', ':m': 'add', 'x-ü': 'ünï' },
      payload: new Uint8Array([1, 2, 3]),
    });
    const frames: Frame[] = [];
    const decoder = createFrameDecoder((f) => frames.push(f));
    for (const b of bytes) decoder.push(new Uint8Array([b]));
    decoder.end();
    expect(frames).toHaveLength(1);
    expect(frames[0]?.id).toBe(2 ** 40 + 7);
    expect({ ...frames[0]?.metadata }).toEqual({ ':s': 'Arith', ':m': 'add', 'x-ü': 'ünï' });
    expect([...(frames[0]?.payload ?? [])]).toEqual([1, 2, 3]);
  });
});
