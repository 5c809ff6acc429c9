import { deepStrictEqual } from 'node:assert';
import fc from 'fast-check';
import { FLOAT32_OPTIONS, Packr, Unpackr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { plainValues } from '../test/msgpack-arbitraries.js';
import { createFastMsgpackDecoder, NOT_PLAIN } from './msgpack-fast-decode.js';

// The fast decoder must read exactly what msgpackr reads with the standard codec's options, so that a
// value does not depend on which of the two decoded it.
const packr = new Packr({ useRecords: false, encodeUndefinedAsNil: true, variableMapSize: true });
const unpackr = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  structuredClone: false,
  int64AsType: 'auto' as 'bigint',
});

/** msgpackr's reading of `bytes`, or the error it throws. */
function msgpackr(bytes: Uint8Array): { value: unknown } | { error: unknown } {
  try {
    return { value: unpackr.unpack(Buffer.from(bytes)) };
  } catch (error) {
    return { error };
  }
}

/** `bytes` placed at `offset` of a larger chunk filled with 0xc1 (never used in MessagePack). */
function inChunk(bytes: Uint8Array, offset: number): Buffer {
  const chunk = Buffer.alloc(offset + bytes.length + 7, 0xc1);
  chunk.set(bytes, offset);
  return chunk;
}

/** Dates over the whole range, with milliseconds or whole seconds, around each timestamp form's bounds. */
const anyDate = fc.oneof(
  fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }),
  fc.integer({ min: -(2 ** 35), max: 2 ** 35 }).map((seconds) => new Date(seconds * 1000)),
  fc
    .constantFrom(0, 2 ** 32 - 1, 2 ** 32, 2 ** 34 - 1, 2 ** 34, -1)
    .chain((seconds) => fc.integer({ min: 0, max: 999 }).map((ms) => new Date(seconds * 1000 + ms))),
);

/** 64-bit integers (msgpackr writes a bigint as int64 or uint64), around 2^53, where 'auto' turns to bigint. */
const anyInt64 = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
  fc.constantFrom(
    0n,
    2n ** 32n,
    2n ** 53n,
    2n ** 53n + 1n,
    -(2n ** 53n),
    -(2n ** 53n) - 1n,
    2n ** 63n,
    2n ** 64n - 1n,
  ),
  fc.integer({ min: -3, max: 3 }).map((d) => -(2n ** 63n) + 3n + BigInt(d)),
);

const plain = plainValues([
  fc.constant(null),
  fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)),
  anyDate,
  anyInt64,
]);

describe('createFastMsgpackDecoder', () => {
  it('reads what msgpackr reads, value for value, at any offset of a chunk, or leaves the bytes to msgpackr', () => {
    const decode = createFastMsgpackDecoder();
    let fast = 0;
    fc.assert(
      fc.property(plain, fc.nat(300), (value, offset) => {
        const bytes = packr.pack(value);
        const expected = msgpackr(bytes);
        expect('value' in expected).toBe(true);
        const got = decode(inChunk(bytes, offset), offset, offset + bytes.length);
        // Lone surrogates are written as bytes that are not UTF-8: only those go to msgpackr.
        if (got === NOT_PLAIN) return;
        fast++;
        deepStrictEqual(got, (expected as { value: unknown }).value);
      }),
      { numRuns: 2_000 },
    );
    expect(fast).toBeGreaterThan(1_000);
  });

  it("reads int64 and uint64 as msgpackr's 'auto' does: numbers within ±2^53, both ends included, bigints beyond", () => {
    const decode = createFastMsgpackDecoder();
    const int = (type: number, value: bigint): Buffer => {
      const bytes = Buffer.alloc(9);
      bytes[0] = type;
      if (type === 0xcf) bytes.writeBigUInt64BE(value, 1);
      else bytes.writeBigInt64BE(value, 1);
      return bytes;
    };
    const cases = [
      ...[0n, 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n].map((v) =>
        int(0xcf, v),
      ),
      ...[
        0n,
        -1n,
        2n ** 53n,
        2n ** 53n + 1n,
        -(2n ** 53n),
        -(2n ** 53n) - 1n,
        2n ** 63n - 1n,
        -(2n ** 63n),
      ].map((v) => int(0xd3, v)),
    ];
    for (const bytes of cases) {
      const got = decode(inChunk(bytes, 3), 3, 3 + bytes.length);
      expect(got).not.toBe(NOT_PLAIN);
      expect(got).toStrictEqual(unpackr.unpack(bytes));
    }
  });

  it('reads float32 as msgpackr does (written by an encoder that uses it for fractions)', () => {
    const decode = createFastMsgpackDecoder();
    const float32 = new Packr({
      useRecords: false,
      variableMapSize: true,
      useFloat32: FLOAT32_OPTIONS.ALWAYS,
    });
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.double(), fc.float()), { maxLength: 8 }), (list) => {
        const bytes = float32.pack({ list });
        const got = decode(inChunk(bytes, 1), 1, 1 + bytes.length);
        expect(got).not.toBe(NOT_PLAIN);
        deepStrictEqual(got, unpackr.unpack(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it("leaves int64 and uint64 to msgpackr when the codec does not read them as msgpackr's 'auto'", () => {
    const decode = createFastMsgpackDecoder('other');
    for (const value of [5n, -(2n ** 60n), 2n ** 64n - 1n]) {
      const bytes = packr.pack({ id: value });
      expect(decode(bytes, 0, bytes.length)).toBe(NOT_PLAIN);
    }
    const plainBytes = packr.pack({ id: 5 });
    deepStrictEqual(decode(plainBytes, 0, plainBytes.length), { id: 5 });
  });

  it('never disagrees with msgpackr on arbitrary bytes: the same value, or NOT_PLAIN (also where msgpackr throws)', () => {
    const decode = createFastMsgpackDecoder();
    const tokens = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      // Mostly well-formed prefixes of real messages, cut or extended by a byte or two.
      fc.tuple(plain, fc.integer({ min: -3, max: 2 }), fc.nat(255)).map(([v, cut, extra]) => {
        const b = packr.pack(v);
        return cut < 0
          ? b.subarray(0, Math.max(0, b.length + cut))
          : Buffer.concat([b, Buffer.alloc(cut, extra)]);
      }),
    );
    fc.assert(
      fc.property(tokens, (bytes) => {
        if (bytes.length === 0) return;
        const got = decode(inChunk(bytes, 3), 3, 3 + bytes.length);
        if (got === NOT_PLAIN) return;
        const expected = msgpackr(bytes);
        expect('value' in expected).toBe(true);
        deepStrictEqual(got, (expected as { value: unknown }).value);
      }),
      { numRuns: 3_000 },
    );
  });

  it('leaves what is outside its domain to msgpackr', () => {
    const decode = createFastMsgpackDecoder();
    const outside = [
      Buffer.from([0xd4, 0xff, 0xff]), // an invalid date, as msgpackr writes one
      Buffer.from([0xd6, 0x01, 0, 0, 0, 0]), // another extension type
      Buffer.from([0xc7, 5, 0xff, 0, 0, 0, 0, 0]), // a timestamp of no standard length
      Buffer.from([0x81, 0x01, 0xa1, 0x61]), // a number as a map key
      Buffer.from([0xc1]), // never used
      Buffer.from([0xa2, 0xc3, 0x28]), // not UTF-8
      Buffer.from([0xa3, 0xed, 0xa0, 0x80]), // a surrogate, as msgpackr writes a lone one
      Buffer.from([0xa2, 0xc0, 0x80]), // an overlong NUL
      Buffer.from([0xa4, 0xf4, 0x90, 0x80, 0x80]), // past U+10FFFF
      Buffer.from([0xa2, 0xe2, 0x82]), // a sequence cut short by the string's end
      Buffer.concat([Buffer.from([0xd9, 70]), Buffer.alloc(69, 0x61), Buffer.from([0xff])]), // long, not UTF-8
      Buffer.concat([Buffer.alloc(65, 0x91), Buffer.from([0x01])]), // nested deeper than 64
    ];
    for (const bytes of outside) {
      expect(decode(inChunk(bytes, 5), 5, 5 + bytes.length)).toBe(NOT_PLAIN);
    }
    // 64 levels are still its own.
    const deep = Buffer.concat([Buffer.alloc(64, 0x91), Buffer.from([0x01])]);
    deepStrictEqual(decode(deep, 0, deep.length), unpackr.unpack(deep));
  });

  it('reads the three timestamp forms as msgpackr does, and leaves it the 96-bit seconds it reads its own way', () => {
    const decode = createFastMsgpackDecoder();
    const read = (bytes: Uint8Array): unknown => decode(inChunk(bytes, 7), 7, 7 + bytes.length);
    const forms = [
      new Date(1_718_000_000_000), // whole seconds: 32-bit
      new Date(1_718_000_000_123), // milliseconds: 64-bit
      new Date(-1), // before 1970: 96-bit
      new Date(8.64e15), // the last valid date: 96-bit
      new Date(-8.64e15),
    ];
    const lengths = forms.map((date) => {
      const bytes = packr.pack({ at: date });
      const got = read(bytes) as { at: Date };
      expect(got.at).toBeInstanceOf(Date);
      expect(got.at.getTime()).toBe(date.getTime());
      deepStrictEqual(got, unpackr.unpack(bytes));
      return bytes.length;
    });
    expect(lengths.slice(0, 3)).toEqual([4 + 6, 4 + 10, 4 + 15]);
    // Nanoseconds msgpackr never writes (it writes whole milliseconds), next to seconds past 32 bits; and ext 8
    // with 4 or 8 bytes of data: the same forms, written another way.
    for (const bytes of [
      Buffer.from([0xd7, 0xff, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00]),
      Buffer.from([0xd7, 0xff, 0xee, 0x6b, 0x27, 0xfe, 0x00, 0x00, 0x00, 0x01]),
      Buffer.from([0xc7, 4, 0xff, 0x66, 0x69, 0x2a, 0x00]),
      Buffer.from([0xc7, 8, 0xff, 0x1d, 0x53, 0x2c, 0x00, 0x66, 0x69, 0x2a, 0x00]),
    ]) {
      const got = read(bytes);
      expect(got).toBeInstanceOf(Date);
      deepStrictEqual(got, unpackr.unpack(bytes));
    }
    // 96-bit seconds: msgpackr reads the low 48 bits and the sign bit, so where the top bytes are not the
    // sign's, or the date is past the range of Date, it has its own reading.
    const ninetySix = (top: number[], low: number[]): Buffer =>
      Buffer.from([0xc7, 12, 0xff, 0, 0, 0, 0, ...top, ...low]);
    for (const bytes of [
      ninetySix([0x01, 0x00], [0, 0, 0, 0, 0, 1]),
      ninetySix([0xff, 0xff], [0x00, 0, 0, 0, 0, 1]),
      ninetySix([0x00, 0x00], [0x40, 0, 0, 0, 0, 0]),
    ]) {
      expect(read(bytes)).toBe(NOT_PLAIN);
    }
    deepStrictEqual(read(ninetySix([0xff, 0xff], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), new Date(-1000));
  });

  it('never reads past its end: bytes after it cannot complete a value cut short', () => {
    const decode = createFastMsgpackDecoder();
    const bytes = packr.pack({ name: 'alice', data: Buffer.from([1, 2, 3]), list: [1, 2, 3] });
    for (let cut = 1; cut < bytes.length; cut++) {
      // The chunk holds the whole message; the range ends `cut` bytes early.
      const chunk = inChunk(bytes, 4);
      expect(decode(chunk, 4, 4 + bytes.length - cut)).toBe(NOT_PLAIN);
    }
    // Every type byte with 0–5 bytes after it (mostly headers cut short): msgpackr's value or NOT_PLAIN.
    for (let t = 0; t < 0x100; t++) {
      for (let extra = 0; extra <= 5; extra++) {
        const bytes = Buffer.alloc(1 + extra, 0x01);
        bytes[0] = t;
        const got = decode(inChunk(bytes, 2), 2, 2 + bytes.length);
        if (got === NOT_PLAIN) continue;
        const expected = msgpackr(bytes);
        expect({ t, extra, ...expected }).toEqual({ t, extra, value: got });
      }
    }
    // And bytes left over in the range are not ignored.
    const chunk = inChunk(bytes, 4);
    expect(decode(chunk, 4, 4 + bytes.length + 1)).toBe(NOT_PLAIN);
  });

  it('gives bin values as views into the source, and renames __proto__ as msgpackr does', () => {
    const decode = createFastMsgpackDecoder();
    const bytes = packr.pack({ data: Buffer.from([9, 8, 7]) });
    const chunk = inChunk(bytes, 10);
    const value = decode(chunk, 10, 10 + bytes.length) as { data: Buffer };
    expect(Buffer.isBuffer(value.data)).toBe(true);
    expect(value.data.buffer).toBe(chunk.buffer);
    expect([...value.data]).toEqual([9, 8, 7]);
    // { "__proto__": { polluted: true } } as another language would write it.
    const proto = Buffer.from([
      0x81,
      0xa9,
      ...Buffer.from('__proto__'),
      0x81,
      0xa8,
      ...Buffer.from('polluted'),
      0xc3,
    ]);
    const got = decode(proto, 0, proto.length) as Record<string, unknown>;
    deepStrictEqual(got, unpackr.unpack(proto));
    expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('keeps a leading byte order mark, in short and long strings, as msgpackr does', () => {
    const decode = createFastMsgpackDecoder();
    for (const text of ['\ufeffhi', `\ufeff${'x'.repeat(100)}`, `\ufeff${'é'.repeat(40)}`]) {
      const bytes = packr.pack({ text });
      const got = decode(bytes, 0, bytes.length) as { text: string };
      expect(got).not.toBe(NOT_PLAIN);
      expect(got.text).toBe(text);
      deepStrictEqual(got, unpackr.unpack(bytes));
    }
  });

  it('reads keys from its cache only for the same bytes: keys sharing a cache slot stay apart', () => {
    const decode = createFastMsgpackDecoder();
    // Same length and first two bytes: the same slot of the cache.
    const names = ['abX', 'abY', 'abX', 'abZ', 'abY'];
    for (const [i, name] of names.entries()) {
      const bytes = packr.pack({ [name]: i });
      const offset = i * 13;
      expect(decode(inChunk(bytes, offset), offset, offset + bytes.length)).toEqual({ [name]: i });
    }
    // Keys of every length around the cached limit, and a long one.
    for (const length of [0, 1, 2, 15, 16, 17, 31, 32, 40, 300]) {
      const k = 'k'.repeat(length);
      const bytes = packr.pack({ [k]: length, [`${k}é`]: -length });
      deepStrictEqual(decode(bytes, 0, bytes.length), unpackr.unpack(bytes));
    }
  });
});
