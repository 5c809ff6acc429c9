import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { plainValues } from '../test/msgpack-arbitraries.js';
import { createFastMsgpackEncoder } from './msgpack-fast-encode.js';

// The fast encoder must write exactly what msgpackr writes with the standard codec's options, so that
// the codec's output does not depend on which of the two encoded a value.
const packr = new Packr({ useRecords: false, encodeUndefinedAsNil: true, variableMapSize: true });
const same = (a: Uint8Array | undefined, b: Uint8Array): boolean =>
  a !== undefined && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), b) === 0;

const plain = plainValues([
  fc.constantFrom(null, undefined),
  fc.uint8Array({ maxLength: 300 }),
  fc.uint8Array({ maxLength: 8 }).map((u) => Buffer.from(u)),
  fc.date(),
  fc.constantFrom(
    new Date(0),
    new Date(-1),
    new Date(1_718_000_000_000),
    new Date(2 ** 32 * 1000),
    new Date(NaN),
  ),
  fc.constantFrom(
    new Date(2 ** 34 * 1000 - 1),
    new Date(2 ** 34 * 1000),
    new Date(-8.64e15),
    new Date(8.64e15),
  ),
  // Bigints within 64 bits, where msgpackr turns from int64 to uint64.
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
  fc.constantFrom(0n, -1n, 2n ** 63n - 1n, 2n ** 63n, -(2n ** 63n), 2n ** 64n - 1n),
]);

describe('createFastMsgpackEncoder', () => {
  it('writes what msgpackr writes, byte for byte, for plain values', () => {
    const encode = createFastMsgpackEncoder();
    fc.assert(
      fc.property(plain, (value) => same(encode(value), packr.pack(value))),
      { numRuns: 2_000 },
    );
  });

  it('writes what msgpackr writes at the size boundaries of strings, bytes, arrays and maps', () => {
    const encode = createFastMsgpackEncoder();
    const values: unknown[] = [];
    for (const n of [0x1f, 0x20, 0x3f, 0x40, 0xff, 0x100, 0x5555, 0xffff, 0x10000, 0x20000]) {
      values.push('a'.repeat(n), 'é'.repeat(n), '€'.repeat(Math.ceil(n / 3)), '😀'.repeat(Math.ceil(n / 4)));
      values.push(new Uint8Array(n).fill(7));
    }
    for (const n of [0xf, 0x10, 0xffff, 0x10000]) {
      values.push(Array.from({ length: n }, (_, i) => i));
      values.push(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])));
    }
    // Dates at the edges of msgpackr's three timestamp sizes, and an invalid one.
    for (const ms of [
      0,
      -1,
      1_000,
      1_718_000_000_000,
      1_718_000_000_123,
      2 ** 32 * 1000 - 1000,
      2 ** 32 * 1000,
    ]) {
      values.push(new Date(ms), new Date(ms + 1));
    }
    values.push(
      new Date(2 ** 34 * 1000 - 1),
      new Date(2 ** 34 * 1000),
      new Date(-8.64e15),
      new Date(8.64e15),
    );
    values.push(new Date(Number.NaN), { when: new Date(1_000), list: [new Date(-5)] });
    for (const value of values) expect(same(encode(value), packr.pack(value))).toBe(true);
  });

  it('leaves anything but plain values to msgpackr', () => {
    const encode = createFastMsgpackEncoder();
    const first = encode({ a: 'x' }) as Uint8Array;
    class Point {
      x = 1;
    }
    let deep: unknown = 1;
    for (let i = 0; i < 70; i++) deep = [deep];
    class Day extends Date {}
    for (const value of [
      new Day(0),
      new Map([[1, 2]]),
      new Set([1]),
      2n ** 64n, // beyond 64 bits: msgpackr refuses it
      -(2n ** 63n) - 1n,
      Symbol('s'),
      () => 1,
      new Point(),
      Object.create(null),
      new Float32Array(2),
      new ArrayBuffer(4),
      { nested: { when: new Map() } },
      [1, 2, 2n ** 70n],
      deep,
    ]) {
      expect(encode(value)).toBeUndefined();
    }
    // What was written before the value turned out not to be plain is not returned, and the next encode
    // starts where that one did.
    const next = encode({ a: 'x' }) as Uint8Array;
    expect(same(next, packr.pack({ a: 'x' }))).toBe(true);
    expect([next.buffer, next.byteOffset]).toEqual([first.buffer, first.byteOffset + first.length]);
  });

  it('returns encodings that later encodes do not overwrite, across slabs', () => {
    const encode = createFastMsgpackEncoder();
    const kept: { value: unknown; bytes: Uint8Array }[] = [];
    // ~3 slabs of 64 KiB, with values that cross a slab's end, and one larger than a slab.
    for (let i = 0; i < 400; i++) {
      const value = { i, s: 'x'.repeat(i * 3), data: new Uint8Array(i % 7 === 0 ? 1_500 : 20).fill(i) };
      kept.push({ value, bytes: encode(value) as Uint8Array });
    }
    const big = { data: new Uint8Array(300_000).fill(9) };
    kept.push({ value: big, bytes: encode(big) as Uint8Array });
    kept.push({ value: { after: true }, bytes: encode({ after: true }) as Uint8Array });
    for (const { value, bytes } of kept) expect(same(bytes, packr.pack(value))).toBe(true);
  });

  it('leaves an encode made from inside a value being encoded (a getter) to msgpackr', () => {
    const encode = createFastMsgpackEncoder();
    let inner: Uint8Array | undefined | null = null;
    const value = {
      a: 'before',
      get b(): string {
        inner = encode({ nested: 1 });
        return 'b';
      },
      c: 'after',
    };
    const out = encode(value);
    expect(inner).toBeUndefined();
    expect(same(out, packr.pack({ a: 'before', b: 'b', c: 'after' }))).toBe(true);
  });

  it('lets an error of the value itself (a throwing getter) through', () => {
    const encode = createFastMsgpackEncoder();
    const value = {
      get broken(): never {
        throw new Error('getter failed');
      },
    };
    expect(() => encode(value)).toThrow('getter failed');
    expect(same(encode([1]), packr.pack([1]))).toBe(true);
  });
});
