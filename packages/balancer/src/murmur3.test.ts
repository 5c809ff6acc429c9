import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { murmur3 } from './index.js';

/** Straightforward MurmurHash3 x86_32 over bytes, as the reference implementation reads. */
function reference(bytes: Uint8Array, seed: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const blocks = bytes.length >> 2;
  let h = seed | 0;
  const mix = (k: number) =>
    Math.imul((Math.imul(k, 0xcc9e2d51) << 15) | (Math.imul(k, 0xcc9e2d51) >>> 17), 0x1b873593);
  for (let i = 0; i < blocks; i++) {
    h ^= mix(view.getUint32(i * 4, true));
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  for (let i = bytes.length - 1; i >= blocks * 4; i--) k = (k << 8) | bytes[i]!;
  if ((bytes.length & 3) !== 0) h ^= mix(k);
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Strings of 1-, 2-, 3- and 4-byte UTF-8 characters, surrogate pairs and lone surrogates. */
const anyString = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0, max: 0x7f }),
      fc.integer({ min: 0x80, max: 0x7ff }),
      fc.integer({ min: 0x800, max: 0xffff }),
      fc.integer({ min: 0x10000, max: 0x10ffff }),
    ),
    { maxLength: 24 },
  )
  .map((codePoints) => String.fromCodePoint(...codePoints));

describe('murmur3', () => {
  it('matches published MurmurHash3 x86_32 vectors', () => {
    expect(murmur3('')).toBe(0);
    expect(murmur3('', 1)).toBe(0x514e28b7);
    expect(murmur3('hello')).toBe(0x248bfa47);
    expect(murmur3('The quick brown fox jumps over the lazy dog')).toBe(0x2e4ff723);
  });

  it('hashes the UTF-8 bytes, as TextEncoder gives them, for any string', () => {
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(
        anyString,
        fc.integer(),
        (text, seed) => murmur3(text, seed) === reference(encoder.encode(text), seed),
      ),
      { numRuns: 1000 },
    );
  });

  it('hashes lone surrogates as U+FFFD', () => {
    expect(murmur3('a\ud800b')).toBe(murmur3('a\ufffdb'));
    expect(murmur3('\udc00')).toBe(murmur3('\ufffd'));
  });
});
