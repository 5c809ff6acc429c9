import { decode as referenceDecode, encode as referenceEncode } from '@msgpack/msgpack';
import { addExtension } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { catchError, structuredMessage } from '../test/fixtures.js';
import { CodecError, CodecId, createMsgpackCodec, msgpackCodec } from './index.js';

// The record extension is ext type 0x72 in a fixext1 (0xd4): standard output must never contain it.
const hasRecordExtension = (bytes: Uint8Array): boolean =>
  bytes.some((b, i) => b === 0xd4 && bytes[i + 1] === 0x72);

describe('msgpackCodec', () => {
  it('has the MessagePack id and name', () => {
    expect(msgpackCodec.id).toBe(CodecId.MessagePack);
    expect(msgpackCodec.id).toBe(2);
    expect(msgpackCodec.name).toBe('msgpack');
  });

  it('round-trips a structured message', () => {
    const message = structuredMessage();
    const bytes = msgpackCodec.encode(message);
    expect(bytes.length).toBeGreaterThan(500);
    expect(msgpackCodec.decode(bytes)).toEqual(message);
  });

  it('writes standard MessagePack that an independent decoder (@msgpack/msgpack) reads', () => {
    const message = structuredMessage();
    const bytes = msgpackCodec.encode(message);
    expect(hasRecordExtension(bytes)).toBe(false);
    expect(referenceDecode(bytes)).toEqual(message);
  });

  it('reads what an independent encoder (@msgpack/msgpack) writes', () => {
    const message = structuredMessage();
    expect(msgpackCodec.decode(referenceEncode(message))).toEqual(message);
  });

  it('uses fixmaps for small objects, as other encoders do', () => {
    expect([...msgpackCodec.encode({ a: 1 })]).toEqual([0x81, 0xa1, 0x61, 0x01]);
    expect([...msgpackCodec.encode({ a: 1 })]).toEqual([...referenceEncode({ a: 1 })]);
  });

  it('sends undefined as an empty payload, nested undefined as nil', () => {
    expect(msgpackCodec.encode(undefined)).toHaveLength(0);
    expect(msgpackCodec.decode(new Uint8Array(0))).toBeUndefined();
    expect([...msgpackCodec.encode(null)]).toEqual([0xc0]);
    const bytes = msgpackCodec.encode({ a: undefined, list: [undefined] });
    expect(referenceDecode(bytes)).toEqual({ a: null, list: [null] });
    expect(msgpackCodec.decode(bytes)).toEqual({ a: null, list: [null] });
  });

  it('maps Map, Set, Date, bigint and bytes as documented', () => {
    const date = new Date(1_718_000_000_123);
    const value = {
      map: new Map<unknown, unknown>([
        ['k', 1],
        [2, 'two'],
      ]),
      set: new Set([1, 2]),
      date,
      small: 123n,
      big: 2n ** 60n,
      bytes: new Uint8Array([1, 2, 3]),
    };
    const decoded = msgpackCodec.decode(msgpackCodec.encode(value)) as Record<string, unknown>;
    expect(decoded.map).toEqual({ k: 1, 2: 'two' });
    expect(decoded.set).toEqual([1, 2]);
    expect(decoded.date).toEqual(date);
    expect(decoded.small).toBe(123);
    expect(decoded.big).toBe(2n ** 60n);
    expect(decoded.bytes).toBeInstanceOf(Uint8Array);
    expect([...(decoded.bytes as Uint8Array)]).toEqual([1, 2, 3]);
    // The timestamp and int64 forms are standard: the reference decoder reads them too.
    const reference = referenceDecode(msgpackCodec.encode(value), { useBigInt64: true }) as Record<
      string,
      unknown
    >;
    expect(reference.date).toEqual(date);
    expect(reference.big).toBe(2n ** 60n);
  });

  it('returns encodings that later calls do not overwrite', () => {
    const first = msgpackCodec.encode({ n: 1, s: 'first' });
    const copy = [...first];
    for (let i = 0; i < 2000; i++) msgpackCodec.encode({ n: i, s: 'x'.repeat(i % 50) });
    expect([...first]).toEqual(copy);
  });

  it('throws CodecError encode_failed for a cycle or a bigint beyond 64 bits', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    for (const value of [cycle, { n: 2n ** 70n }]) {
      const err = catchError(() => msgpackCodec.encode(value));
      expect(err).toBeInstanceOf(CodecError);
      expect((err as CodecError).code).toBe('encode_failed');
    }
  });

  it('throws CodecError decode_failed for truncated, trailing or absurdly nested bytes', () => {
    const garbage = [
      new Uint8Array([0x82, 0xa1, 0x61]),
      new Uint8Array([0x01, 0x02]),
      new Uint8Array([0xdf, 0xff, 0xff, 0xff, 0xff]),
      new Uint8Array([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]),
      new Uint8Array(200_000).fill(0x91),
    ];
    for (const bytes of garbage) {
      const err = catchError(() => msgpackCodec.decode(bytes));
      expect(err).toBeInstanceOf(CodecError);
      expect((err as CodecError).code).toBe('decode_failed');
      expect((err as CodecError).message).toMatch(/^msgpack: cannot decode \d+ bytes/);
    }
  });

  it('refuses msgpackr structured-clone references: a peer cannot hand a handler a cyclic value', () => {
    // What new Packr({ structuredClone: true }) writes for `const a = { a: 1 }; a.self = a`: an id (ext 0x69)
    // and a pointer to it (ext 0x70). Decoded, it was an object that contains itself.
    const cyclic = Buffer.from('d66900000001d4724092a161a473656c6601d67000000001', 'hex');
    const err = catchError(() => msgpackCodec.decode(cyclic));
    expect(err).toBeInstanceOf(CodecError);
    expect((err as CodecError).code).toBe('decode_failed');
    const records = createMsgpackCodec({ records: true });
    expect((catchError(() => records.decode(cyclic)) as CodecError).code).toBe('decode_failed');
  });

  it('throws encode_failed for a function or symbol in place of the whole value, never a silent nil', () => {
    for (const value of [() => 1, Symbol('s')]) {
      const err = catchError(() => msgpackCodec.encode(value));
      expect(err).toBeInstanceOf(CodecError);
      expect((err as CodecError).code).toBe('encode_failed');
    }
  });

  it('decodes views into one larger buffer by their own bounds, never reading the neighbours', () => {
    const a = msgpackCodec.encode({ id: 1, data: new Uint8Array([1, 2, 3]) });
    const b = msgpackCodec.encode({ id: 2, name: 'second', when: 1.5 });
    const chunk = new Uint8Array(a.length + b.length + 6).fill(0xc1); // 0xc1: never used in MessagePack
    chunk.set(a, 2);
    chunk.set(b, 4 + a.length);
    const viewA = chunk.subarray(2, 2 + a.length);
    const viewB = chunk.subarray(4 + a.length, 4 + a.length + b.length);
    expect(msgpackCodec.decode(viewB)).toEqual({ id: 2, name: 'second', when: 1.5 });
    const first = msgpackCodec.decode(viewA) as { id: number; data: Uint8Array };
    expect(first.id).toBe(1);
    expect([...first.data]).toEqual([1, 2, 3]);
    expect(first.data.buffer).toBe(chunk.buffer); // read in place: a view, not a copy
    // A value cut short inside the buffer fails, though the bytes after the view would complete it.
    const cut = catchError(() => msgpackCodec.decode(chunk.subarray(2, 2 + a.length - 1)));
    expect((cut as CodecError).code).toBe('decode_failed');
    expect(msgpackCodec.decode(viewB)).toEqual({ id: 2, name: 'second', when: 1.5 });
  });

  it('decodes a large payload in place: its bytes are a view into the input, not a copy', () => {
    const big = new Uint8Array(300).fill(7);
    const bytes = msgpackCodec.encode({ id: 1, data: big });
    const chunk = new Uint8Array(bytes.length + 100).fill(0xc1);
    chunk.set(bytes, 50);
    const view = chunk.subarray(50, 50 + bytes.length);
    const value = msgpackCodec.decode(view) as { id: number; data: Uint8Array };
    expect(value.data.buffer).toBe(chunk.buffer);
    expect([...value.data]).toEqual([...big]);
  });

  it('decodes small payloads from a reused copy without letting one call see another', () => {
    // Small payloads are copied to one scratch buffer and read from there: a value decoded earlier must
    // not change when the next payload overwrites the scratch, and a cut payload must not be completed by
    // the bytes a longer payload left behind.
    const long = msgpackCodec.encode({
      name: 'a long enough string value',
      data: new Uint8Array([1, 2, 3, 4]),
    });
    const first = msgpackCodec.decode(long) as { name: string; data: Uint8Array };
    const other = msgpackCodec.encode({
      name: 'b long enough string value',
      data: new Uint8Array([9, 9, 9, 9]),
    });
    const second = msgpackCodec.decode(other) as { name: string; data: Uint8Array };
    expect(second.name).toBe('b long enough string value');
    expect([...second.data]).toEqual([9, 9, 9, 9]);
    expect(first.name).toBe('a long enough string value');
    expect([...first.data]).toEqual([1, 2, 3, 4]);
    for (let cut = 1; cut < other.length; cut++) {
      const err = catchError(() => msgpackCodec.decode(other.subarray(0, cut)));
      expect((err as CodecError).code).toBe('decode_failed');
    }
  });

  it('decodes a small payload re-entered from an extension without overwriting the one being read', () => {
    // An extension registered with msgpackr (global to the process) may decode other bytes with the codec
    // while the codec is still reading the outer payload from its scratch copy: here a reference to a
    // stored value, which is longer than the payload that refers to it.
    const stored = [msgpackCodec.encode({ z: 'a stored value long enough to cover the outer payload' })];
    class Ref {
      constructor(readonly index: number) {}
    }
    addExtension({
      Class: Ref,
      type: 0x40,
      pack: (r: Ref) => Buffer.from([r.index]),
      unpack: (data: Uint8Array) => msgpackCodec.decode(stored[data[0] as number] as Uint8Array),
    });
    const bytes = msgpackCodec.encode({ a: 'before', r: new Ref(0), b: 'after' });
    expect(bytes.length).toBeLessThan((stored[0] as Uint8Array).length);
    expect(msgpackCodec.decode(bytes)).toEqual({
      a: 'before',
      r: { z: 'a stored value long enough to cover the outer payload' },
      b: 'after',
    });
  });

  it('decodes a payload re-entered from a setter on Object.prototype without disturbing the one being read', () => {
    // The codec reads plain values in place with state of its own; a setter someone put on Object.prototype
    // runs when a decoded map has that key, and may decode other bytes with the codec meanwhile.
    const inner = msgpackCodec.encode({ inner: 'a value read from inside the setter', n: [1, 2, 3] });
    const seen: unknown[] = [];
    Object.defineProperty(Object.prototype, 'hooked', {
      configurable: true,
      set(this: Record<string, unknown>, value: unknown) {
        seen.push(msgpackCodec.decode(inner));
        Object.defineProperty(this, 'hooked', {
          value,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      },
    });
    try {
      const outer = msgpackCodec.decode(
        msgpackCodec.encode({ a: 'before', hooked: 7, b: 'after', c: [4, 5] }),
      );
      expect(outer).toEqual({ a: 'before', hooked: 7, b: 'after', c: [4, 5] });
      expect(seen).toEqual([{ inner: 'a value read from inside the setter', n: [1, 2, 3] }]);
    } finally {
      delete (Object.prototype as Record<string, unknown>).hooked;
    }
  });

  it('decodes small and large payloads alike, at any offset of a received chunk', () => {
    const values = [
      { id: 12, name: 'alice', tags: ['x', 'y'] },
      { service: 'orders', user: 'u-1234', amount: 12.5, ok: true, when: new Date(1_718_000_000_000) },
      { text: 'é'.repeat(60), n: -1 },
      { list: Array.from({ length: 40 }, (_, i) => ({ i, s: `v${i}` })) },
    ];
    const chunk = new Uint8Array(70_000);
    for (const value of values) {
      const bytes = msgpackCodec.encode(value);
      for (const offset of [0, 100, 10_000, 70_000 - bytes.length]) {
        chunk.set(bytes, offset);
        expect(msgpackCodec.decode(chunk.subarray(offset, offset + bytes.length))).toEqual(value);
      }
    }
  });
});

describe('createMsgpackCodec', () => {
  it('opts into the record extension, which msgpackr decoders read', () => {
    const records = createMsgpackCodec({ records: true });
    expect(records.id).toBe(CodecId.MessagePack);
    const message = structuredMessage();
    const bytes = records.encode(message);
    expect(hasRecordExtension(bytes)).toBe(true);
    expect(records.decode(bytes)).toEqual(message);
    expect(msgpackCodec.decode(bytes)).toEqual(message);
    // Only msgpackr understands records: a standard decoder sees one ext value and trailing bytes.
    expect(() => referenceDecode(bytes)).toThrow();
  });

  it('decodes 64-bit integers as chosen', () => {
    const bytes = referenceEncode({ n: 5n, big: 2n ** 60n }, { useBigInt64: true });
    expect(createMsgpackCodec({ int64: 'bigint' }).decode(bytes)).toEqual({ n: 5n, big: 2n ** 60n });
    expect(createMsgpackCodec({ int64: 'string' }).decode(bytes)).toEqual({ n: '5', big: String(2n ** 60n) });
    expect(createMsgpackCodec({ int64: 'number' }).decode(bytes)).toEqual({ n: 5, big: 2 ** 60 });
    expect(createMsgpackCodec().decode(bytes)).toEqual({ n: 5, big: 2n ** 60n });
  });
});
