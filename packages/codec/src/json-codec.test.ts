import { describe, expect, it } from 'vitest';
import { catchError, structuredMessage } from '../test/fixtures.js';
import { CodecError, CodecId, jsonCodec } from './index.js';

describe('jsonCodec', () => {
  it('has the JSON id and name', () => {
    expect(jsonCodec.id).toBe(CodecId.Json);
    expect(jsonCodec.id).toBe(0);
    expect(jsonCodec.name).toBe('json');
  });

  it('round-trips a structured message as UTF-8 JSON text', () => {
    const message = structuredMessage();
    const bytes = jsonCodec.encode(message);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(new TextDecoder().decode(bytes)).toBe(JSON.stringify(message));
    expect(jsonCodec.decode(bytes)).toEqual(message);
  });

  it('round-trips top-level scalars and null', () => {
    for (const value of [null, 0, -1.5, 'ünï', true, [], {}]) {
      expect(jsonCodec.decode(jsonCodec.encode(value))).toEqual(value);
    }
  });

  it('sends undefined as an empty payload and reads an empty payload as undefined', () => {
    expect(jsonCodec.encode(undefined)).toHaveLength(0);
    expect(jsonCodec.decode(new Uint8Array(0))).toBeUndefined();
    expect(jsonCodec.encode(null)).toHaveLength(4);
  });

  it('follows JSON.stringify for values JSON lacks', () => {
    const date = new Date(1_718_000_000_123);
    expect(jsonCodec.decode(jsonCodec.encode({ date, gone: undefined, list: [undefined] }))).toEqual({
      date: date.toISOString(),
      list: [null],
    });
  });

  it('throws CodecError encode_failed for a bigint or a cycle', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    for (const value of [{ n: 1n }, cycle]) {
      const err = catchError(() => jsonCodec.encode(value));
      expect(err).toBeInstanceOf(CodecError);
      expect((err as CodecError).code).toBe('encode_failed');
      expect((err as CodecError).cause).toBeInstanceOf(TypeError);
    }
  });

  it('throws CodecError encode_failed for a function or symbol in place of the whole value, never an empty payload', () => {
    // JSON.stringify gives undefined for them: they went out as "no value" and arrived as undefined.
    for (const value of [() => 1, Symbol('s')]) {
      const err = catchError(() => jsonCodec.encode(value));
      expect(err).toBeInstanceOf(CodecError);
      expect((err as CodecError).code).toBe('encode_failed');
      expect((err as CodecError).message).toBe(`json: cannot encode a ${typeof value}`);
    }
    expect(jsonCodec.encode(undefined)).toHaveLength(0);
  });

  it('throws CodecError decode_failed for garbage, truncated JSON or invalid UTF-8', () => {
    const garbage = [
      new Uint8Array([0xff, 0xfe, 0x00, 0x13]),
      new TextEncoder().encode('{"a":'),
      new Uint8Array([0x22, 0xc3, 0x28, 0x22]),
    ];
    for (const bytes of garbage) {
      const err = catchError(() => jsonCodec.decode(bytes));
      expect(err).toBeInstanceOf(CodecError);
      expect((err as CodecError).code).toBe('decode_failed');
      expect((err as CodecError).message).toMatch(/^json: cannot decode \d+ bytes/);
    }
  });
});
