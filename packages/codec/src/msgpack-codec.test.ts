import { decode as referenceDecode, encode as referenceEncode } from '@msgpack/msgpack';
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
    expect(first.data.buffer).toBe(chunk.buffer); // still a view, not a copy
    // A value cut short inside the buffer fails, though the bytes after the view would complete it.
    const cut = catchError(() => msgpackCodec.decode(chunk.subarray(2, 2 + a.length - 1)));
    expect((cut as CodecError).code).toBe('decode_failed');
    expect(msgpackCodec.decode(viewB)).toEqual({ id: 2, name: 'second', when: 1.5 });
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
