import { describe, expect, it } from 'vitest';
import { catchError } from '../test/fixtures.js';
import type { CodecSchema } from './index.js';
import { CodecError, CodecId, createProtobufCodec } from './index.js';

const PROTO = `
syntax = "proto3";
package shop;
import "google/protobuf/timestamp.proto";

enum Status { STATUS_UNKNOWN = 0; PAID = 1; SHIPPED = 2; }
message Address { string street = 1; string city = 2; }
message Order {
  string id = 1;
  int64 created_at = 2;
  Status status = 3;
  repeated string tags = 4;
  Address address = 5;
  bytes signature = 6;
  map<string, int32> counts = 7;
  bool express = 8;
  double total = 9;
  google.protobuf.Timestamp paid_at = 10;
}
message GetOrder { string id = 1; }
message Ack { bool ok = 1; uint32 version = 2; }
`;

const METHODS = {
  'Shop.get': { request: 'shop.GetOrder', response: 'shop.Order' },
  'Shop.put': { request: 'shop.Order', response: 'shop.Ack' },
};

const schema = (method: string, kind: CodecSchema['kind']): CodecSchema => ({
  service: 'Shop',
  method,
  kind,
});

const order = {
  id: 'ord-1',
  createdAt: 1_718_000_000_123,
  status: 1,
  tags: ['a', 'b'],
  address: { street: '12 Analytical Row', city: 'London' },
  signature: new Uint8Array([1, 2, 3]),
  counts: { x: 1, y: -2 },
  express: true,
  total: 155.4,
  paidAt: { seconds: 1_718_000_000, nanos: 5 },
};

describe('createProtobufCodec from .proto source', () => {
  const codec = createProtobufCodec({ proto: PROTO, methods: METHODS });

  it('has the Protobuf id and name', () => {
    expect(codec.id).toBe(CodecId.Protobuf);
    expect(codec.id).toBe(1);
    expect(codec.name).toBe('protobuf');
  });

  it('round-trips a message with nested, repeated, map, enum, int64, bytes and well-known fields', () => {
    const bytes = codec.encode(order, schema('get', 'response'));
    const decoded = codec.decode(bytes, schema('get', 'response')) as typeof order;
    expect({ ...decoded, signature: [...decoded.signature] }).toEqual({ ...order, signature: [1, 2, 3] });
    expect(decoded.signature).toBeInstanceOf(Uint8Array);
  });

  it('chooses the type per method and direction', () => {
    const request = codec.encode({ id: 'ord-1' }, schema('get', 'request'));
    expect(codec.decode(request, schema('get', 'request'))).toEqual({ id: 'ord-1' });
    // Shop.put takes an Order: the same bytes read as its request are an Order with field 1 set.
    const asOrder = codec.decode(request, schema('put', 'request')) as typeof order;
    expect(asOrder.id).toBe('ord-1');
    expect(asOrder.tags).toEqual([]);
    const ack = codec.encode({ ok: true, version: 7 }, schema('put', 'response'));
    expect(codec.decode(ack, schema('put', 'response'))).toEqual({ ok: true, version: 7 });
  });

  it('fills in defaults, so every field is present after decode', () => {
    expect(codec.decode(new Uint8Array(0), schema('put', 'response'))).toEqual({ ok: false, version: 0 });
    const empty = codec.decode(codec.encode(undefined, schema('get', 'response')), schema('get', 'response'));
    expect(empty).toMatchObject({ id: '', createdAt: 0, status: 0, tags: [], counts: {}, address: null });
    expect(codec.encode(null, schema('put', 'response'))).toHaveLength(0);
  });

  it('looks schemas up by content, not only by object identity', () => {
    const a = codec.encode({ ok: true }, schema('put', 'response'));
    const b = codec.encode({ ok: true }, { service: 'Shop', method: 'put', kind: 'response' });
    expect([...a]).toEqual([...b]);
  });

  it('camelCases field names unless keepCase is set', () => {
    const keep = createProtobufCodec({ proto: PROTO, methods: METHODS, keepCase: true });
    const bytes = keep.encode({ created_at: 5 }, schema('put', 'request'));
    expect(codec.decode(bytes, schema('put', 'request'))).toMatchObject({ createdAt: 5 });
    expect(keep.decode(bytes, schema('put', 'request'))).toMatchObject({ created_at: 5 });
  });

  it('throws CodecError unknown_schema without a schema or for an unknown method', () => {
    const cases: [() => unknown, RegExp][] = [
      [() => codec.encode({ id: 'x' }), /schema is required/],
      [() => codec.decode(new Uint8Array(0)), /schema is required/],
      [() => codec.encode({}, schema('delete', 'request')), /no request type for method Shop\.delete/],
      [
        () => codec.decode(new Uint8Array(0), { service: 'Other', method: 'get', kind: 'response' }),
        /Other\.get/,
      ],
      [() => codec.encode({}, { service: 'Shop', method: 'get', kind: 'sideways' as 'request' }), /sideways/],
    ];
    for (const [fn, message] of cases) {
      const err = catchError(fn);
      expect(err).toBeInstanceOf(CodecError);
      expect((err as CodecError).code).toBe('unknown_schema');
      expect((err as CodecError).message).toMatch(message);
    }
  });

  it('throws CodecError encode_failed for values that do not match the type', () => {
    const bad: unknown[] = [
      { id: 5 },
      { createdAt: 'soon' },
      { address: { city: 7 } },
      { tags: 'a' },
      'text',
      42,
    ];
    for (const value of bad) {
      const err = catchError(() => codec.encode(value, schema('get', 'response')));
      expect(err).toBeInstanceOf(CodecError);
      expect((err as CodecError).code).toBe('encode_failed');
      expect((err as CodecError).message).toMatch(/^protobuf: Order/);
    }
  });

  it('throws CodecError encode_failed for an array in place of the message, never empty bytes', () => {
    for (const value of [[1, 2], [], [order]]) {
      const err = catchError(() => codec.encode(value, schema('get', 'response')));
      expect(err).toBeInstanceOf(CodecError);
      expect((err as CodecError).code).toBe('encode_failed');
      expect((err as CodecError).message).toBe('protobuf: Order must be an object, got an array');
    }
  });

  it('throws CodecError encode_failed, with the cause, when reading a field throws', () => {
    const boom = new Error('not loaded yet');
    const lazy = {
      id: 'ord-1',
      get tags(): string[] {
        throw boom;
      },
    };
    const err = catchError(() => codec.encode(lazy, schema('get', 'response')));
    expect(err).toBeInstanceOf(CodecError);
    expect((err as CodecError).code).toBe('encode_failed');
    expect((err as CodecError).message).toBe('protobuf: cannot encode Order: not loaded yet');
    expect((err as CodecError).cause).toBe(boom);
  });

  it('throws CodecError decode_failed for garbage bytes', () => {
    const garbage = [
      new Uint8Array([0xff, 0xff, 0xff]),
      new Uint8Array([0x0a, 0x05, 0x01]),
      new Uint8Array([0x0f]),
    ];
    for (const bytes of garbage) {
      const err = catchError(() => codec.decode(bytes, schema('get', 'response')));
      expect(err).toBeInstanceOf(CodecError);
      expect((err as CodecError).code).toBe('decode_failed');
      expect((err as CodecError).message).toMatch(/^protobuf: cannot decode \d+ bytes as Order/);
    }
  });
});

describe('createProtobufCodec on strings', () => {
  const codec = createProtobufCodec({
    proto: 'syntax = "proto3"; message M { string s = 1; map<string, string> tags = 2; bytes raw = 3; }',
    methods: { 'S.m': { request: 'M', response: 'M' } },
  });
  const m: CodecSchema = { service: 'S', method: 'm', kind: 'request' };
  /** `hex` as a Uint8Array, as a Buffer, and as a Buffer view with bytes on both sides (as a payload is). */
  const holders = (hex: string): [string, Uint8Array][] => {
    const bytes = Buffer.from(hex, 'hex');
    const padded = Buffer.concat([Buffer.from('eeee', 'hex'), bytes, Buffer.from('7a7a7a7a', 'hex')]);
    return [
      ['Uint8Array', new Uint8Array(bytes)],
      ['Buffer', bytes],
      ['Buffer view', padded.subarray(2, 2 + bytes.length)],
    ];
  };

  it('throws decode_failed for a string that runs past the bytes, whatever holds them', () => {
    // Field 1, length 5, but 3 bytes: payloads from the transport are Buffers, and protobufjs's Buffer reader
    // cut the string short ("abc") instead of failing; a frame that arrived split was a Uint8Array and failed.
    for (const hex of ['0a05616263', '12060a02616263']) {
      for (const [holder, bytes] of holders(hex)) {
        const err = catchError(() => codec.decode(bytes, m));
        expect(err, `${hex} in a ${holder}`).toBeInstanceOf(CodecError);
        expect((err as CodecError).code).toBe('decode_failed');
      }
    }
  });

  it('throws decode_failed for a string that is not UTF-8 (proto3), whatever holds the bytes', () => {
    // 0xc3 0x28: read as "è" from a Uint8Array and as "\ufffd(" from a Buffer.
    for (const hex of ['0a02c328', '0a03eda080', '0a01ff', '120a0a02c3281204616263']) {
      for (const [holder, bytes] of holders(hex)) {
        const err = catchError(() => codec.decode(bytes, m));
        expect(err, `${hex} in a ${holder}`).toBeInstanceOf(CodecError);
        expect((err as CodecError).code).toBe('decode_failed');
      }
    }
  });

  it('reads good strings the same from any holder: ASCII, 2-4 byte UTF-8, long, empty, map keys', () => {
    const value = {
      s: `Zoë 日本 🚀 ${'x'.repeat(100)}`,
      tags: { '': 'empty key', ключ: 'значение', k: '' },
      raw: new Uint8Array([0xc3, 0x28]), // bytes are not text: no UTF-8 check
    };
    const hex = Buffer.from(codec.encode(value, m)).toString('hex');
    for (const [holder, bytes] of holders(hex)) {
      const decoded = codec.decode(bytes, m) as typeof value;
      expect(decoded.s, holder).toBe(value.s);
      expect({ ...decoded.tags }).toEqual(value.tags);
      expect([...decoded.raw]).toEqual([0xc3, 0x28]);
    }
  });

  it('writes a lone surrogate as U+FFFD, as UTF-8 must, in short and long strings and in map keys', () => {
    // protobufjs wrote strings under 40 units with its own encoder: a lone surrogate became the 3 bytes of an
    // encoded surrogate (ed a0 80), which no strict UTF-8 reader takes; longer strings got U+FFFD.
    for (const [lone, fixed] of [
      ['a\ud800b', 'a\ufffdb'],
      [`${'x'.repeat(50)}\udc00`, `${'x'.repeat(50)}\ufffd`],
      ['\ud83d\ude80\ud83d', '🚀\ufffd'],
    ] as const) {
      const bytes = codec.encode({ s: lone, tags: { [lone]: lone } }, m);
      expect(bytes).toEqual(codec.encode({ s: fixed, tags: { [fixed]: fixed } }, m));
      expect(codec.decode(bytes, m)).toMatchObject({ s: fixed, tags: { [fixed]: fixed } });
    }
  });
});

describe('createProtobufCodec from a JSON descriptor', () => {
  const descriptor = {
    nested: {
      greet: {
        nested: {
          Hello: { fields: { name: { type: 'string', id: 1 }, times: { type: 'int32', id: 2 } } },
          Reply: { fields: { lines: { rule: 'repeated', type: 'string', id: 1 } } },
        },
      },
    },
  };
  const codec = createProtobufCodec({
    descriptor,
    methods: { 'Greeter.hello': { request: 'greet.Hello', response: 'greet.Reply' } },
  });
  const request: CodecSchema = { service: 'Greeter', method: 'hello', kind: 'request' };
  const response: CodecSchema = { service: 'Greeter', method: 'hello', kind: 'response' };

  it('round-trips both directions of a method', () => {
    const hello = codec.encode({ name: 'Ada', times: 2 }, request);
    expect([...hello]).toEqual([0x0a, 0x03, 0x41, 0x64, 0x61, 0x10, 0x02]);
    expect(codec.decode(hello, request)).toEqual({ name: 'Ada', times: 2 });
    const reply = codec.encode({ lines: ['hi', 'hi'] }, response);
    expect(codec.decode(reply, response)).toEqual({ lines: ['hi', 'hi'] });
  });
});

describe('createProtobufCodec with a bad schema', () => {
  it('throws CodecError invalid_schema for source that does not parse', () => {
    const err = catchError(() => createProtobufCodec({ proto: 'message {', methods: {} }));
    expect(err).toBeInstanceOf(CodecError);
    expect((err as CodecError).code).toBe('invalid_schema');
  });

  it('throws CodecError invalid_schema for an import it cannot resolve', () => {
    const proto = 'syntax = "proto3"; import "other.proto"; message A { string a = 1; }';
    const err = catchError(() => createProtobufCodec({ proto, methods: {} }));
    expect((err as CodecError).code).toBe('invalid_schema');
    expect((err as CodecError).message).toMatch(/other\.proto/);
  });

  it('throws CodecError invalid_schema for a method type the schema lacks', () => {
    const methods = { 'Shop.get': { request: 'shop.Nope', response: 'shop.Order' } };
    const err = catchError(() => createProtobufCodec({ proto: PROTO, methods }));
    expect(err).toBeInstanceOf(CodecError);
    expect((err as CodecError).code).toBe('invalid_schema');
    expect((err as CodecError).message).toMatch(/shop\.Nope/);
  });

  it('throws CodecError invalid_schema for a descriptor with unresolvable field types', () => {
    const descriptor = { nested: { X: { fields: { a: { type: 'Missing', id: 1 } } } } };
    const err = catchError(() => createProtobufCodec({ descriptor, methods: {} }));
    expect((err as CodecError).code).toBe('invalid_schema');
  });
});
