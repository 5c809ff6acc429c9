import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToHex, concat, decodeChunks } from '../test/support.js';
import type { FrameType as FrameTypeValue, Metadata, OutgoingFrame } from './index.js';
import {
  Code,
  CodecId,
  decodeMetadata,
  encodeFrame,
  encodeMetadata,
  FrameType,
  HEADER_SIZE,
  isCodecId,
  isFrameType,
  MAX_REQUEST_ID,
  maxFrameSize,
  metadataSize,
  RpcError,
  utf8Length,
  writeFrame,
} from './index.js';

const text = fc.string({ unit: 'binary', maxLength: 20 });

const request = (over: Partial<OutgoingFrame> = {}): OutgoingFrame => ({
  type: FrameType.Request,
  codec: CodecId.Json,
  id: 1,
  ...over,
});

describe('encodeMetadata', () => {
  it('encodes pairs that concatenated blocks and per-call metadata combine as rawMetadata', () => {
    const route = encodeMetadata({ ':s': 'Arith', ':m': 'add' });
    const auth = encodeMetadata({ authorization: 'Bearer t' });
    expect(route.length).toBe(metadataSize({ ':s': 'Arith', ':m': 'add' }));
    const bytes = encodeFrame(
      request({
        rawMetadata: concat([route, auth]),
        metadata: { ':t': '100' },
        payload: new Uint8Array([1]),
      }),
    );
    const [frame] = decodeChunks([bytes]).frames;
    expect(frame?.metadata).toEqual({ ':s': 'Arith', ':m': 'add', authorization: 'Bearer t', ':t': '100' });
    // The metadata length field covers both parts exactly.
    expect(new DataView(bytes.buffer).getUint32(17)).toBe(
      route.length + auth.length + metadataSize({ ':t': '100' }),
    );
  });

  it('lets per-call metadata override a pre-encoded pair (the last duplicate wins)', () => {
    const bytes = encodeFrame(
      request({ rawMetadata: encodeMetadata({ ':m': 'old' }), metadata: { ':m': 'new' } }),
    );
    expect(decodeChunks([bytes]).frames[0]?.metadata).toEqual({ ':m': 'new' });
  });

  it('encodes an empty object to nothing', () => {
    expect(encodeMetadata({})).toEqual(new Uint8Array(0));
    expect(bytesToHex(encodeFrame(request({ rawMetadata: new Uint8Array(0), metadata: {} })))).toBe(
      bytesToHex(encodeFrame(request())),
    );
  });

  it('round-trips through decodeMetadata, with sizes exact and bounds safe', () => {
    fc.assert(
      fc.property(fc.dictionary(text, text, { maxKeys: 8 }), (md) => {
        const block = encodeMetadata(md as Metadata);
        expect(block.length).toBe(metadataSize(md as Metadata));
        expect({ ...decodeMetadata(block, 0, block.length) }).toEqual({ ...md });
        expect(maxFrameSize(request({ metadata: md as Metadata }))).toBeGreaterThanOrEqual(
          HEADER_SIZE + block.length,
        );
      }),
      { numRuns: 200 },
    );
  });
});

describe('writeFrame', () => {
  it('writes frames into a shared buffer at an offset, leaving the bytes around them alone', () => {
    const a = request({ id: 1, metadata: { ':s': 'S', ':m': 'ü' }, payload: new Uint8Array([1, 2]) });
    const b = request({ type: FrameType.Response, id: 2, payload: new Uint8Array([3]) });
    const buffer = new Uint8Array(5 + maxFrameSize(a) + maxFrameSize(b) + 5).fill(0xaa);
    const n1 = writeFrame(a, buffer, 5);
    const n2 = writeFrame(b, buffer, 5 + n1);
    expect(buffer.subarray(5, 5 + n1)).toEqual(encodeFrame(a));
    expect(buffer.subarray(5 + n1, 5 + n1 + n2)).toEqual(encodeFrame(b));
    expect([...buffer.subarray(0, 5)]).toEqual([0xaa, 0xaa, 0xaa, 0xaa, 0xaa]);
    expect(buffer.subarray(5 + n1 + n2).every((x) => x === 0xaa)).toBe(true);
    expect(decodeChunks([buffer.subarray(5, 5 + n1 + n2)]).frames.map((f) => f.id)).toEqual([1, 2]);
  });

  it('writes the request id as a big-endian u64, high word included', () => {
    const hex = (id: number) => bytesToHex(encodeFrame(request({ id })).subarray(5, 13));
    expect(hex(0)).toBe('0000000000000000');
    expect(hex(2 ** 32 + 1)).toBe('0000000100000001');
    expect(hex(MAX_REQUEST_ID)).toBe('001fffffffffffff');
  });

  it('refuses request ids the wire cannot carry', () => {
    for (const id of [-1, 1.5, Number.NaN, MAX_REQUEST_ID + 1, Number.POSITIVE_INFINITY]) {
      expect(() => encodeFrame(request({ id })), String(id)).toThrow(
        expect.objectContaining({ kind: 'bad_request_id', code: Code.InvalidArgument }),
      );
    }
  });

  it('refuses a frame type or codec id that a receiver refuses (bad_type, bad_codec), writing nothing', () => {
    // 0x100 and 0x102 used to go out as their low byte: a Request in JSON, MessagePack in place of 258.
    for (const type of [5, 0xff, 0x100, -1, 1.5, Number.NaN]) {
      const target = new Uint8Array(64).fill(0xaa);
      expect(() => writeFrame(request({ type: type as FrameTypeValue }), target, 0), String(type)).toThrow(
        expect.objectContaining({ kind: 'bad_type', code: Code.InvalidArgument }),
      );
      expect(target.every((b) => b === 0xaa)).toBe(true);
    }
    for (const codec of [3, 0xff, 0x102, -1, 0.5]) {
      expect(() => encodeFrame(request({ codec })), String(codec)).toThrow(
        expect.objectContaining({ kind: 'bad_codec', code: Code.InvalidArgument }),
      );
    }
    // What the encoder accepts, a receiver accepts: every type with every codec id.
    for (const type of Object.values(FrameType)) {
      for (const codec of Object.values(CodecId)) {
        expect(decodeChunks([encodeFrame(request({ type, codec }))]).frames).toMatchObject([{ type, codec }]);
      }
    }
  });

  it('isFrameType and isCodecId hold for the integers of their tables only', () => {
    expect([0, 1, 2, 3, 4].every(isFrameType)).toBe(true);
    for (const v of [-1, 5, 0.5, 1.5, Number.NaN, Number.POSITIVE_INFINITY])
      expect(isFrameType(v), String(v)).toBe(false);
    expect([0, 1, 2].every(isCodecId)).toBe(true);
    for (const v of [-1, 3, 0.5, Number.NaN]) expect(isCodecId(v), String(v)).toBe(false);
  });

  it('refuses a metadata key over 65,535 bytes, and accepts one of exactly 65,535', () => {
    expect(() => encodeFrame(request({ metadata: { ['é'.repeat(32768)]: 'v' } }))).toThrow(
      expect.objectContaining({ kind: 'metadata_too_large' }),
    );
    const key = 'k'.repeat(0xffff);
    const bytes = encodeFrame(request({ metadata: { [key]: 'v' } }));
    expect(decodeChunks([bytes], { maxMetadata: 1 << 17 }).frames[0]?.metadata[key]).toBe('v');
  });

  it('refuses a metadata value that is not a string (plain-JS callers) with an RpcError', () => {
    const md = { ':t': 1500 } as unknown as Metadata;
    for (const encode of [
      () => encodeFrame(request({ metadata: md })),
      () => maxFrameSize(request({ metadata: md })),
      () => encodeMetadata(md),
      () => metadataSize(md),
    ]) {
      expect(encode).toThrow(RpcError);
      expect(encode).toThrow(expect.objectContaining({ code: Code.InvalidArgument }));
    }
  });
});

describe('utf8Length', () => {
  it('agrees with TextEncoder, lone surrogates included', () => {
    const encoder = new TextEncoder();
    fc.assert(
      fc.property(
        fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }),
        (s) => {
          expect(utf8Length(s)).toBe(encoder.encode(s).length);
          expect(metadataSize({ [s]: s })).toBe(6 + 2 * encoder.encode(s).length);
        },
      ),
      { numRuns: 300 },
    );
  });
});
