import { describe, expect, it } from 'vitest';
import { concat, decodeChunks, hexToBytes, oneByteChunks, trackAllocations } from '../test/support.js';
import type { Frame, FrameDecoderOptions, ProtocolErrorKind } from './index.js';
import {
  Code,
  CodecId,
  createFrameDecoder,
  DEFAULT_MAX_METADATA,
  DEFAULT_MAX_PAYLOAD,
  decodeMetadata,
  encodeFrame,
  FrameType,
  HEADER_SIZE,
  isProtocolError,
  MAX_REQUEST_ID,
  ProtocolError,
} from './index.js';

/** A valid 21-byte Response header (id 1, no metadata, no payload) with `patch` bytes written over it. */
function header(patch: Record<number, number> = {}, lengths: { payload?: number; metadata?: number } = {}) {
  const h = encodeFrame({ type: FrameType.Response, codec: CodecId.Json, id: 1 });
  const view = new DataView(h.buffer, h.byteOffset);
  view.setUint32(13, lengths.payload ?? 0);
  view.setUint32(17, lengths.metadata ?? 0);
  for (const [at, value] of Object.entries(patch)) h[Number(at)] = value;
  return h;
}

/** A frame whose metadata block is `block` (raw bytes, possibly malformed), then `payload`. */
function withMetadataBlock(block: Uint8Array, payload = new Uint8Array(0)): Uint8Array {
  return concat([header({}, { metadata: block.length, payload: payload.length }), block, payload]);
}

const u16 = (n: number) => [n >>> 8, n & 0xff];
const u32 = (n: number) => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const pair = (key: number[], value: number[]) => [...u16(key.length), ...key, ...u32(value.length), ...value];
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

interface BadCase {
  bytes: Uint8Array;
  kind: ProtocolErrorKind;
  /** Offset of the byte at which a decoder fed one byte at a time must fail; 'end' for end(). */
  failAt: number | 'end';
  options?: FrameDecoderOptions;
}

/**
 * Decodes `c.bytes` in one chunk and byte by byte, watching every Uint8Array the decoder allocates.
 * Returns the largest allocation, for the caller to bound.
 */
function expectRejected(c: BadCase): number {
  let largest = 0;
  const sizes = trackAllocations(() => {
    const whole = decodeChunks([c.bytes], c.options);
    expect(whole).toMatchObject({ frames: [], error: c.kind });
    const byByte = decodeChunks(oneByteChunks(c.bytes), c.options);
    expect(byByte).toMatchObject({ frames: [], error: c.kind, at: c.failAt });
  });
  // decodeChunks itself allocates nothing; every size here is the decoder's (its 21-byte header buffer).
  for (const s of sizes) largest = Math.max(largest, s);
  return largest;
}

describe('createFrameDecoder rejects bad input', () => {
  it('bad magic, at its first wrong byte', () => {
    expect(expectRejected({ bytes: header({ 0: 0x00 }), kind: 'bad_magic', failAt: 0 })).toBeLessThanOrEqual(
      HEADER_SIZE,
    );
    expectRejected({ bytes: header({ 1: 0x53 }), kind: 'bad_magic', failAt: 1 });
    expectRejected({
      bytes: new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n'),
      kind: 'bad_magic',
      failAt: 0,
    });
  });

  it('unknown version', () => {
    expectRejected({ bytes: header({ 2: 0 }), kind: 'bad_version', failAt: 2 });
    expectRejected({ bytes: header({ 2: 2 }), kind: 'bad_version', failAt: 2 });
  });

  it('unknown frame type', () => {
    expectRejected({ bytes: header({ 3: 5 }), kind: 'bad_type', failAt: 3 });
    expectRejected({ bytes: header({ 3: 0xff }), kind: 'bad_type', failAt: 3 });
  });

  it('unknown codec id, and a codec the receiver does not accept', () => {
    expectRejected({ bytes: header({ 4: 3 }), kind: 'bad_codec', failAt: 4 });
    expectRejected({
      bytes: header({ 4: CodecId.Protobuf }),
      kind: 'bad_codec',
      failAt: 4,
      options: { isKnownCodec: (id) => id === CodecId.Json },
    });
  });

  it('request id above 2^53−1', () => {
    expectRejected({ bytes: header({ 5: 0, 6: 0x20 }), kind: 'bad_request_id', failAt: 6 });
    expectRejected({ bytes: header({ 5: 0x80 }), kind: 'bad_request_id', failAt: 5 });
    const max = hexToBytes('4d52 0101 00 001fffffffffffff 00000000 00000000');
    expect(decodeChunks([max]).frames[0]?.id).toBe(MAX_REQUEST_ID);
  });

  it('payload length over the limit: fails on the header, allocates nothing of the claimed size', () => {
    const claims4GiB = header({}, { payload: 0xffff_ffff });
    const largest = expectRejected({ bytes: claims4GiB, kind: 'payload_too_large', failAt: 16 });
    expect(largest).toBeLessThanOrEqual(HEADER_SIZE);
    // Just over the default limit, followed by real payload bytes: none of them is read.
    const justOver = concat([header({}, { payload: DEFAULT_MAX_PAYLOAD + 1 }), new Uint8Array(1000)]);
    expect(expectRejected({ bytes: justOver, kind: 'payload_too_large', failAt: 16 })).toBeLessThanOrEqual(
      HEADER_SIZE,
    );
    const decoder = createFrameDecoder(() => {});
    expect(() => decoder.push(claims4GiB)).toThrow(expect.objectContaining({ kind: 'payload_too_large' }));
    expect(decoder.buffered).toBeLessThanOrEqual(HEADER_SIZE);
  });

  it('metadata length over the limit: fails on the header, allocates nothing of the claimed size', () => {
    const claims4GiB = header({}, { metadata: 0xffff_ffff });
    expect(expectRejected({ bytes: claims4GiB, kind: 'metadata_too_large', failAt: 20 })).toBeLessThanOrEqual(
      HEADER_SIZE,
    );
    const justOver = header({}, { metadata: DEFAULT_MAX_METADATA + 1 });
    expectRejected({ bytes: justOver, kind: 'metadata_too_large', failAt: 20 });
    const custom = header({}, { metadata: 101 });
    expectRejected({ bytes: custom, kind: 'metadata_too_large', failAt: 20, options: { maxMetadata: 100 } });
  });

  it('truncated frame: end() inside a header or a body', () => {
    const frame = encodeFrame({
      type: FrameType.Request,
      codec: CodecId.Json,
      id: 9,
      metadata: { ':s': 'S', ':m': 'm' },
      payload: new Uint8Array(50),
    });
    for (const cutAt of [1, 20, 21, 22, frame.length - 1]) {
      expectRejected({ bytes: frame.subarray(0, cutAt), kind: 'truncated', failAt: 'end' });
    }
    // A stream that ends between frames is fine.
    expect(decodeChunks([frame, frame]).frames).toHaveLength(2);
  });

  it('metadata whose lengths overrun the frame', () => {
    const overruns: number[][] = [
      [0x00], // one stray byte: not even a key length
      [...u16(5), ...ascii('ab')], // key length past the block
      [...u16(2), ...ascii(':c'), 0, 0], // value length cut off
      [...u16(2), ...ascii(':c'), ...u32(5), ...ascii('1')], // value past the block
      [...pair(ascii(':c'), ascii('14')), ...u16(0xffff)], // a second pair that cannot fit
      [...u16(2), ...ascii(':c'), ...u32(0xffff_ffff)], // a 4 GiB value length: no allocation either
    ];
    for (const block of overruns) {
      const bytes = withMetadataBlock(new Uint8Array(block), new Uint8Array([1, 2, 3]));
      const largest = expectRejected({ bytes, kind: 'metadata_overrun', failAt: bytes.length - 1 });
      expect(largest).toBeLessThanOrEqual(bytes.length);
    }
  });

  it('invalid UTF-8 in a metadata key or value', () => {
    const invalid = [
      [0xc3, 0x28], // a 2-byte lead without continuation
      [0x80], // a lone continuation byte
      [0xc0, 0x80], // overlong NUL
      [0xed, 0xa0, 0x80], // an encoded surrogate (U+D800)
      [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
      [0xe6, 0x97], // cut-off 3-byte sequence
      [0xff],
    ];
    for (const bad of invalid) {
      for (const padding of [0, 40]) {
        // Short and long strings take different paths in readUtf8; both must be strict.
        const text = [...ascii('x'.repeat(padding)), ...bad];
        for (const block of [pair(text, ascii('v')), pair(ascii('k'), text)]) {
          const bytes = withMetadataBlock(new Uint8Array(block));
          expectRejected({ bytes, kind: 'bad_utf8', failAt: bytes.length - 1 });
        }
      }
    }
  });

  it('a frame that breaks several rules reports the first in byte order (§6)', () => {
    // Key length 1, key 0xff (bad UTF-8), then a value length cut off after 2 of its 4 bytes: the key is
    // bad before the value length overruns the block.
    const repro = hexToBytes('4d52 01 01 00 0000000000000001 00000000 00000005 0001 ff 0000');
    expectRejected({ bytes: repro, kind: 'bad_utf8', failAt: repro.length - 1 });
    for (const key of [[0xff], [...ascii('x'.repeat(40)), 0xc3, 0x28]]) {
      // Short and long keys take different paths in readUtf8; a value length with no byte left, or cut off.
      for (const tail of [[], [0, 0]]) {
        const bytes = withMetadataBlock(new Uint8Array([...u16(key.length), ...key, ...tail]));
        expectRejected({ bytes, kind: 'bad_utf8', failAt: bytes.length - 1 });
      }
    }
    // A good key with the same cut-off value length is still an overrun.
    const overrun = withMetadataBlock(new Uint8Array([...u16(1), ...ascii('k'), 0, 0]));
    expectRejected({ bytes: overrun, kind: 'metadata_overrun', failAt: overrun.length - 1 });
    expect(() => decodeMetadata(new Uint8Array([...u16(1), ...ascii('k'), 0, 0]), 0, 5)).toThrow(
      'metadata value length overruns the block',
    );
  });

  it('carries the code the spec gives each kind', () => {
    const decode = (bytes: Uint8Array) => {
      try {
        createFrameDecoder(() => {}).push(bytes);
      } catch (err) {
        return err;
      }
      throw new Error('did not throw');
    };
    const tooLarge = decode(header({}, { payload: 0xffff_ffff }));
    expect(tooLarge).toBeInstanceOf(ProtocolError);
    expect(tooLarge).toMatchObject({ code: Code.ResourceExhausted, kind: 'payload_too_large' });
    expect(decode(header({}, { metadata: 0xffff_ffff }))).toMatchObject({ code: Code.ResourceExhausted });
    const badMagic = decode(header({ 0: 0 }));
    expect(isProtocolError(badMagic)).toBe(true);
    expect(badMagic).toMatchObject({ code: Code.InvalidArgument, kind: 'bad_magic' });
    expect((badMagic as ProtocolError).rawMessage).toBe(
      'protocol error (bad_magic): expected magic 4d52, got 0052',
    );
  });
});

describe('createFrameDecoder after an error', () => {
  it('stays failed and throws the same error, even for good bytes', () => {
    const good = encodeFrame({ type: FrameType.Heartbeat, codec: 0, id: 0 });
    const frames: Frame[] = [];
    const decoder = createFrameDecoder((f) => frames.push(f));
    let first: unknown;
    try {
      decoder.push(concat([good, header({ 2: 9 }), good]));
    } catch (err) {
      first = err;
    }
    expect(first).toMatchObject({ kind: 'bad_version' });
    expect(frames).toHaveLength(1); // the frame before the bad one was delivered, none after
    expect(() => decoder.push(good)).toThrow(first as Error);
    expect(() => decoder.end()).toThrow(first as Error);
    expect(frames).toHaveLength(1);
  });

  it('stays failed when onFrame throws, instead of reading the rest of the chunk as a new stream', () => {
    const a = encodeFrame({ type: FrameType.Request, codec: 0, id: 1 });
    const b = encodeFrame({ type: FrameType.Request, codec: 0, id: 2 });
    const seen: number[] = [];
    const boom = new Error('handler bug');
    const decoder = createFrameDecoder((f) => {
      seen.push(f.id);
      if (f.id === 1) throw boom;
    });
    expect(() => decoder.push(concat([a, b]))).toThrow(boom);
    expect(() => decoder.push(b)).toThrow(boom);
    expect(seen).toEqual([1]);
  });
});

describe('createFrameDecoder options', () => {
  it('refuses a limit that is not a number ≥ 0 with a TypeError: NaN would switch the limit off', () => {
    for (const bad of [Number.NaN, -1, '64', null]) {
      for (const name of ['maxPayload', 'maxMetadata'] as const) {
        const options = { [name]: bad } as unknown as FrameDecoderOptions;
        expect(() => createFrameDecoder(() => {}, options), `${name} ${String(bad)}`).toThrow(
          new TypeError(`${name} must be a number of bytes ≥ 0, got ${String(bad)}`),
        );
      }
    }
    expect(() => createFrameDecoder(() => {}, { isKnownCodec: 2 } as unknown as FrameDecoderOptions)).toThrow(
      TypeError,
    );
  });

  it('takes 0 and Infinity as limits: 0 admits empty bodies only, Infinity any u32 length', () => {
    const empty = encodeFrame({ type: FrameType.Heartbeat, codec: 0, id: 0 });
    expect(decodeChunks([empty], { maxPayload: 0, maxMetadata: 0 })).toMatchObject({ frames: [{ id: 0 }] });
    const one = encodeFrame({ type: FrameType.Response, codec: 0, id: 1, payload: new Uint8Array(1) });
    expect(decodeChunks([one], { maxPayload: 0 }).error).toBe('payload_too_large');
    const inf = Number.POSITIVE_INFINITY;
    expect(decodeChunks([one], { maxPayload: inf, maxMetadata: inf }).frames).toHaveLength(1);
  });
});

describe('createFrameDecoder on good input', () => {
  it('accepts payload and metadata exactly at their limits', () => {
    const md = { k: 'v'.repeat(10) }; // 2 + 1 + 4 + 10 = 17 bytes
    const bytes = encodeFrame({
      type: FrameType.Response,
      codec: 0,
      id: 3,
      metadata: md,
      payload: new Uint8Array(64),
    });
    const ok = decodeChunks(oneByteChunks(bytes), { maxPayload: 64, maxMetadata: 17 });
    expect(ok.error).toBeUndefined();
    expect(ok.frames).toHaveLength(1);
    expect(decodeChunks([bytes], { maxPayload: 63 }).error).toBe('payload_too_large');
    expect(decodeChunks([bytes], { maxMetadata: 16 }).error).toBe('metadata_too_large');
  });

  it('hands out payloads as views into a chunk that holds the whole frame (no copy)', () => {
    const bytes = encodeFrame({
      type: FrameType.Response,
      codec: 0,
      id: 1,
      payload: new Uint8Array([7, 8, 9]),
    });
    const chunk = concat([bytes, bytes]);
    const payloads: Uint8Array[] = [];
    createFrameDecoder((f) => payloads.push(f.payload)).push(chunk);
    expect(payloads.map((p) => p.buffer)).toEqual([chunk.buffer, chunk.buffer]);
    expect(payloads.map((p) => [...p])).toEqual([
      [7, 8, 9],
      [7, 8, 9],
    ]);
  });

  it('allocates a body buffer only of the size the frame has, only when it arrives split', () => {
    const bytes = encodeFrame({ type: FrameType.Response, codec: 0, id: 1, payload: new Uint8Array(1000) });
    const first = createFrameDecoder(() => {});
    expect(trackAllocations(() => first.push(bytes))).toEqual([]);
    const decoder = createFrameDecoder(() => {});
    const split = trackAllocations(() => {
      decoder.push(bytes.subarray(0, 500));
      decoder.push(bytes.subarray(500));
    });
    expect(split).toEqual([1000]);
    expect(decoder.buffered).toBe(0);
  });

  it('reports what it holds in buffered', () => {
    const bytes = encodeFrame({ type: FrameType.Response, codec: 0, id: 1, payload: new Uint8Array(10) });
    const decoder = createFrameDecoder(() => {});
    decoder.push(bytes.subarray(0, 5));
    expect(decoder.buffered).toBe(5);
    decoder.push(bytes.subarray(5, 25));
    expect(decoder.buffered).toBe(25);
    decoder.push(bytes.subarray(25));
    expect(decoder.buffered).toBe(0);
    decoder.end();
  });
});

describe('createFrameDecoder metadata', () => {
  const request = (id: number, metadata: Record<string, string>) =>
    encodeFrame({ type: FrameType.Request, codec: 0, id, metadata });
  const metadataOf = (chunks: Uint8Array[]) => {
    const seen: Frame['metadata'][] = [];
    const decoder = createFrameDecoder((f) => seen.push(f.metadata));
    for (const chunk of chunks) decoder.push(chunk);
    return seen;
  };

  it('is frozen, and one object for frames that repeat a block, split or whole', () => {
    const md = { ':s': 'Echo', ':m': 'echo', ':t': '30000' };
    const [a, b, c] = metadataOf([request(1, md), ...oneByteChunks(request(2, md)), request(3, md)]);
    expect({ ...a }).toEqual(md);
    expect(Object.isFrozen(a)).toBe(true);
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(() => {
      (a as Record<string, string>).x = '1';
    }).toThrow(TypeError);
  });

  it('tells apart blocks of equal length that differ in one byte, beyond the recent few', () => {
    const blocks = ['echo', 'ecHo', 'exho', 'echO', 'Echo', 'echo', 'ecHo'].map((m) => ({ ':m': m }));
    const seen = metadataOf(blocks.map((md, i) => request(i + 1, md)));
    expect(seen.map((md) => md[':m'])).toEqual(blocks.map((md) => md[':m']));
    expect(new Set(seen).size).toBe(seen.length); // 5 distinct blocks through 4 slots: each was decoded
    expect(seen.every((md) => Object.isFrozen(md))).toBe(true);
  });

  it('decodes per-call values (trace ids) right, and shares repeated blocks again after them', () => {
    const unique = Array.from({ length: 300 }, (_, i) => ({ ':s': 'S', trace: `t-${1000 + i}` }));
    const repeated = { ':s': 'S', trace: 'same' };
    // A run of misses rests the cache for a while (256 blocks); then repeated blocks are shared again.
    const chunks = [...unique, ...Array.from({ length: 300 }, () => repeated)].map((md, i) =>
      request(i + 1, md),
    );
    const seen = metadataOf(chunks);
    expect(seen.slice(0, 300).map((md) => md.trace)).toEqual(unique.map((md) => md.trace));
    expect(seen.slice(300).every((md) => md.trace === 'same')).toBe(true);
    // Never one object for two different blocks; what frames share is frozen.
    expect(new Set(seen.slice(0, 300)).size).toBe(300);
    expect(seen[599]).toBe(seen[598]);
    expect(Object.isFrozen(seen[599])).toBe(true);
  });

  it('decodes blocks over the cache size every time, into an object per frame', () => {
    const md = { big: 'v'.repeat(300) };
    const [a, b] = metadataOf([request(1, md), request(2, md)]);
    expect({ ...a }).toEqual(md);
    expect({ ...b }).toEqual(md);
    expect(b).not.toBe(a);
  });
});

describe('decodeMetadata', () => {
  it('reads a block at an offset inside a larger buffer; the last duplicate wins', () => {
    const block = [
      ...pair(ascii(':s'), ascii('A')),
      ...pair(ascii('x'), ascii('1')),
      ...pair(ascii('x'), ascii('2')),
    ];
    const buffer = new Uint8Array([0xee, 0xee, ...block, 0xee]);
    expect({ ...decodeMetadata(buffer, 2, block.length) }).toEqual({ ':s': 'A', x: '2' });
  });

  it('refuses a range outside the source with a RangeError, rather than read bytes that are not there', () => {
    const block = new Uint8Array(pair(ascii('k'), ascii('v')));
    // It used to return { k: 'v', '': '' } for the first: the four missing bytes read as an empty pair.
    for (const [offset, length] of [
      [0, block.length + 4],
      [2, block.length],
      [-1, 2],
      [0, Number.NaN],
      [0.5, 2],
      [0, 2.5],
    ] as const) {
      expect(() => decodeMetadata(block, offset, length), `${offset}, ${length}`).toThrow(RangeError);
    }
    expect({ ...decodeMetadata(block, 0, block.length) }).toEqual({ k: 'v' });
  });

  it('keeps keys such as __proto__ as plain data', () => {
    const block = new Uint8Array(pair(ascii('__proto__'), ascii('polluted')));
    const md = decodeMetadata(block, 0, block.length);
    expect(Object.getPrototypeOf(md)).toBeNull();
    expect(Object.getOwnPropertyDescriptor(md, '__proto__')?.value).toBe('polluted');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
