import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Frame } from './index.js';
import { createFrameDecoder, decodeMetadata, encodeFrame, encodeMetadata, FrameType } from './index.js';

describe('metadata strings', () => {
  it('decodes the same text for the same bytes, whatever was decoded before (string cache)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.dictionary(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 }), { maxKeys: 4 }), {
          maxLength: 30,
        }),
        (mds) => {
          for (const md of mds) {
            const bytes = encodeMetadata(md);
            expect({ ...decodeMetadata(bytes, 0, bytes.length) }).toEqual(md);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives frames without metadata one shared frozen empty object', () => {
    const frames: Frame[] = [];
    const decoder = createFrameDecoder((f) => frames.push(f));
    decoder.push(encodeFrame({ type: FrameType.Response, codec: 0, id: 1 }));
    decoder.push(encodeFrame({ type: FrameType.Response, codec: 0, id: 2 }));
    expect(frames[0]?.metadata).toBe(frames[1]?.metadata);
    expect(Object.isFrozen(frames[0]?.metadata)).toBe(true);
    expect(Object.keys(frames[0]?.metadata ?? { x: 1 })).toEqual([]);
  });

  it('writes timeoutMs as the :t pair, rounded up, after the other metadata', () => {
    for (const [ms, text] of [
      [0, '0'],
      [1499.2, '1500'],
      [9, '9'],
      [10, '10'],
      [86_400_000, '86400000'],
    ] as const) {
      const frames: Frame[] = [];
      createFrameDecoder((f) => frames.push(f)).push(
        encodeFrame({ type: FrameType.Request, codec: 0, id: 1, metadata: { a: 'b' }, timeoutMs: ms }),
      );
      expect({ ...frames[0]?.metadata }).toEqual({ a: 'b', ':t': text });
    }
    expect(() => encodeFrame({ type: FrameType.Request, codec: 0, id: 1, timeoutMs: Number.NaN })).toThrow(
      /timeout/,
    );
  });
});
