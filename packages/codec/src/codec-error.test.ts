import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { catchError } from '../test/fixtures.js';
import type { Codec, CodecSchema } from './index.js';
import { CodecError, createProtobufCodec, isCodecError, jsonCodec, msgpackCodec } from './index.js';

describe('CodecError', () => {
  it('carries a stable code, a message and the cause', () => {
    const cause = new RangeError('inner');
    const err = new CodecError('decode_failed', 'msgpack: cannot decode 3 bytes', { cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('CodecError');
    expect(err.code).toBe('decode_failed');
    expect(err.message).toBe('msgpack: cannot decode 3 bytes');
    expect(err.cause).toBe(cause);
    expect(isCodecError(err)).toBe(true);
  });

  it('is recognised across copies of the package, and nothing else is', () => {
    // What a CodecError from the other build (ESM vs CJS) or another version looks like.
    class OtherCopy extends Error {
      readonly code = 'decode_failed';
      get [Symbol.for('@mini-rpc/CodecError')](): true {
        return true;
      }
    }
    expect(new OtherCopy()).toBeInstanceOf(CodecError);
    expect(isCodecError(new OtherCopy())).toBe(true);
    for (const value of [new Error('x'), { code: 'decode_failed' }, null, 'decode_failed']) {
      expect(isCodecError(value)).toBe(false);
    }
  });

  it('keeps instanceof ordinary for subclasses', () => {
    class Special extends CodecError {}
    expect(new Special('encode_failed', 'x')).toBeInstanceOf(Special);
    expect(new CodecError('encode_failed', 'x')).not.toBeInstanceOf(Special);
  });
});

describe('a hostile value thrown inside a codec', () => {
  /** A Proxy whose every trap throws: `instanceof`, `String()` and property reads of it all throw. */
  const hostile = new Proxy(
    {},
    {
      get() {
        throw new Error('trap');
      },
      getPrototypeOf() {
        throw new Error('trap');
      },
      has() {
        throw new Error('trap');
      },
    },
  );
  const throwing = {
    get field(): never {
      throw hostile;
    },
  };

  it('still comes out as a CodecError, and isCodecError(it) is false without throwing', () => {
    expect(isCodecError(hostile)).toBe(false);
    expect(hostile instanceof CodecError).toBe(false);
    for (const codec of [jsonCodec, msgpackCodec]) {
      const err = catchError(() => codec.encode(throwing));
      expect(err, codec.name).toBeInstanceOf(CodecError);
      expect((err as CodecError).code).toBe('encode_failed');
      expect((err as CodecError).cause).toBe(hostile);
    }
  });
});

describe('decode of arbitrary bytes', () => {
  const protobuf = createProtobufCodec({
    proto:
      'syntax = "proto3"; message M { string a = 1; repeated int64 b = 2; M c = 3; map<string, M> d = 4; }',
    methods: { 'S.m': { request: 'M', response: 'M' } },
  });
  const schema: CodecSchema = { service: 'S', method: 'm', kind: 'request' };
  const codecs: [string, Codec][] = [
    ['json', jsonCodec],
    ['msgpack', msgpackCodec],
    ['protobuf', protobuf],
  ];

  for (const [name, codec] of codecs) {
    it(`${name}: returns a value or throws CodecError decode_failed, never a raw library error`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
          try {
            codec.decode(bytes, schema);
          } catch (err) {
            return isCodecError(err) && err.code === 'decode_failed';
          }
          return true;
        }),
        { numRuns: 1000 },
      );
    });
  }
});
