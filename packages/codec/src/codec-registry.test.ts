import { describe, expect, it } from 'vitest';
import { catchError } from '../test/fixtures.js';
import type { Codec } from './index.js';
import {
  CodecError,
  CodecId,
  codecFor,
  createCodecRegistry,
  createProtobufCodec,
  jsonCodec,
  msgpackCodec,
} from './index.js';

const protobufCodec = createProtobufCodec({
  proto: 'syntax = "proto3"; message M { string a = 1; }',
  methods: { 'S.m': { request: 'M', response: 'M' } },
});

describe('CodecId', () => {
  it('matches the codec byte of the frame (docs/protocol.md)', () => {
    expect(CodecId).toEqual({ Json: 0, Protobuf: 1, MessagePack: 2 });
  });
});

describe('codecFor', () => {
  it('finds the built-in JSON and MessagePack codecs', () => {
    expect(codecFor(CodecId.Json)).toBe(jsonCodec);
    expect(codecFor(CodecId.MessagePack)).toBe(msgpackCodec);
  });

  it('throws CodecError unknown_codec for protobuf (it needs a schema) and unknown ids', () => {
    const protobuf = catchError(() => codecFor(CodecId.Protobuf));
    expect(protobuf).toBeInstanceOf(CodecError);
    expect((protobuf as CodecError).code).toBe('unknown_codec');
    expect((protobuf as CodecError).message).toMatch(/createProtobufCodec/);
    for (const id of [3, 255, 256, -1, 1.5, Number.NaN]) {
      const err = catchError(() => codecFor(id));
      expect(err).toBeInstanceOf(CodecError);
      expect((err as CodecError).code).toBe('unknown_codec');
    }
  });
});

describe('createCodecRegistry', () => {
  it('looks codecs up by id', () => {
    const registry = createCodecRegistry([jsonCodec, msgpackCodec, protobufCodec]);
    expect(registry.get(0)).toBe(jsonCodec);
    expect(registry.get(1)).toBe(protobufCodec);
    expect(registry.get(2)).toBe(msgpackCodec);
    expect(registry.has(1)).toBe(true);
    expect(registry.has(3)).toBe(false);
    expect(registry.codecs).toEqual([jsonCodec, msgpackCodec, protobufCodec]);
    expect((catchError(() => registry.get(3)) as CodecError).code).toBe('unknown_codec');
  });

  it('accepts a codec of the caller’s own under one of the wire’s codec ids', () => {
    const custom: Codec = { ...msgpackCodec, name: 'my-msgpack' };
    const registry = createCodecRegistry([jsonCodec, custom]);
    expect(registry.get(CodecId.MessagePack)).toBe(custom);
    expect(registry.has(CodecId.Protobuf)).toBe(false);
  });

  it('throws CodecError invalid_options for an id the frame cannot carry (docs/protocol.md §2)', () => {
    // A peer's decoder closes the connection on these codec bytes (bad_codec), so such a codec is never usable.
    for (const id of [3, 0x40, 255]) {
      const custom: Codec = { id, name: 'raw', encode: (v) => v as Uint8Array, decode: (b) => b };
      const err = catchError(() => createCodecRegistry([custom]));
      expect(err).toBeInstanceOf(CodecError);
      expect((err as CodecError).code).toBe('invalid_options');
      expect((err as CodecError).message).toBe(
        `codec raw has id ${id}; a frame's codec byte is 0 (JSON), 1 (Protobuf) or 2 (MessagePack)`,
      );
    }
  });

  it('throws CodecError invalid_options for a shared id or an id outside a byte', () => {
    const twin: Codec = { ...jsonCodec, name: 'json2' };
    const shared = catchError(() => createCodecRegistry([jsonCodec, twin]));
    expect(shared).toBeInstanceOf(CodecError);
    expect((shared as CodecError).code).toBe('invalid_options');
    expect((shared as CodecError).message).toMatch(/json and json2 share id 0/);
    for (const id of [256, -1, 2.5]) {
      const err = catchError(() => createCodecRegistry([{ ...jsonCodec, id }]));
      expect((err as CodecError).code).toBe('invalid_options');
    }
  });
});
