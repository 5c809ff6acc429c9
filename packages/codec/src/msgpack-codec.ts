import { Packr, Unpackr } from 'msgpackr';
import type { Codec } from './codec.js';
import { CodecError, codecFailure } from './codec-error.js';
import { CodecId } from './codec-id.js';
import type { FastMsgpackDecode } from './msgpack-fast-decode.js';
import { createFastMsgpackDecoder, NOT_PLAIN } from './msgpack-fast-decode.js';
import type { FastMsgpackEncode } from './msgpack-fast-encode.js';
import { createFastMsgpackEncoder } from './msgpack-fast-encode.js';

const EMPTY = new Uint8Array(0);
/** Payloads shorter than this that msgpackr reads are decoded from a copy at offset 0 (`MsgpackCodec.#small`). */
const SMALL_PAYLOAD = 140;

/** Options for {@link createMsgpackCodec}. */
export interface MsgpackCodecOptions {
  /**
   * Write objects with msgpackr's record extension (ext 0x72): smaller and faster for arrays of objects of
   * one shape, but only msgpackr can read it. Default `false` (standard MessagePack maps). Every message
   * stays self-contained (no structures shared between messages). Decoders read records either way.
   */
  records?: boolean;
  /**
   * What int64/uint64 values decode as. `'auto'` (default): a number when it is within ±2^53, else a
   * bigint; `'number'` (may lose precision), `'bigint'` or `'string'` always.
   */
  int64?: 'auto' | 'number' | 'bigint' | 'string';
}

class MsgpackCodec implements Codec {
  readonly id = CodecId.MessagePack;
  readonly name = 'msgpack';
  // One encoder and one decoder per codec, reused by every call: msgpackr keeps its scratch buffer in them.
  readonly #packr: Packr;
  /** Plain values without msgpackr's per-call setup, byte for byte as #packr writes them (standard maps only). */
  readonly #fast: FastMsgpackEncode | undefined;
  readonly #unpackr: Unpackr;
  /** Plain values read in place, as #unpackr reads them (standard maps only); msgpackr reads the rest. */
  readonly #fastDecode: FastMsgpackDecode | undefined;
  /**
   * A Buffer over the whole ArrayBuffer of the bytes decoded last. msgpackr keeps a DataView on the array it
   * reads, as a property: payloads are views into one received chunk, so reading them through one array
   * over the chunk, by offsets, shares that DataView between the frames of a chunk instead of adding one
   * to each payload (issue #7: 306 → 188 ns per 64-byte decode when frames share a chunk). It keeps the
   * chunk decoded last reachable until bytes of another chunk are decoded.
   */
  #whole: Buffer | undefined;
  /** The ArrayBuffer under {@link #whole} (one getter call less per decode). */
  #wholeSource: ArrayBufferLike | undefined;
  readonly #range = { start: 0, end: 0 };
  /**
   * Small payloads the fast decoder leaves to msgpackr are copied here and read from offset 0. msgpackr
   * reads a source that ends before byte 140 (keys: 180) in JavaScript, with its key cache; past that it
   * calls its native string extractor for every string, which costs more than the whole decode of a small
   * message. A payload inside a received chunk ends far past byte 140 of {@link #whole}, so a 26-byte
   * `{ id, name, tags }` took 316 ns there against 147 ns here (72-byte `{ data: bin }` 223 → 131 ns).
   * Its own ArrayBuffer (not Node's pool), so the extractor's offsets stay within it.
   */
  readonly #small = Buffer.allocUnsafeSlow(SMALL_PAYLOAD);
  /** Reads {@link #small}: copies `bin` values (`copyBuffers`), so none is a view of bytes reused next call. */
  readonly #smallUnpackr: Unpackr;
  /** Set while {@link #small} is being read: a decode re-entered meanwhile (from an extension) takes the other path. */
  #smallBusy = false;

  constructor(options: MsgpackCodecOptions) {
    const records = options.records ?? false;
    this.#packr = new Packr({
      useRecords: records,
      // Standard msgpack has no undefined: msgpackr would use its own ext type 0 for it otherwise.
      encodeUndefinedAsNil: true,
      // Standard maps only; variableMapSize makes small objects fixmaps like every other encoder does.
      variableMapSize: !records,
    });
    this.#fast = records ? undefined : createFastMsgpackEncoder();
    this.#fastDecode = records
      ? undefined
      : createFastMsgpackDecoder((options.int64 ?? 'auto') === 'auto' ? 'auto' : 'other');
    const unpackOptions = {
      useRecords: records,
      mapsAsObjects: true,
      // msgpackr reads its structured-clone ids and pointers (ext 0x69, 0x70) unless this is false: a peer
      // could hand a handler a value that contains itself (logging it, or any recursion, never ends).
      structuredClone: false,
      // msgpackr's unpack implements 'auto' but its typings list only the other three.
      int64AsType: (options.int64 ?? 'auto') as 'bigint',
    };
    this.#unpackr = new Unpackr(unpackOptions);
    this.#smallUnpackr = new Unpackr({ ...unpackOptions, copyBuffers: true });
  }

  encode(value: unknown): Uint8Array {
    if (value === undefined) return EMPTY;
    // msgpackr writes a function as nil: as the whole value that is a mistake, not a null to send.
    if (typeof value === 'function')
      throw new CodecError('encode_failed', 'msgpack: cannot encode a function');
    try {
      return this.#fast?.(value) ?? this.#packr.pack(value);
    } catch (err) {
      throw codecFailure('encode_failed', 'msgpack: cannot encode the value', err);
    }
  }

  decode(bytes: Uint8Array): unknown {
    if (bytes.length === 0) return undefined;
    const source = bytes.buffer;
    let whole = this.#whole;
    if (whole === undefined || this.#wholeSource !== source) {
      whole = Buffer.from(source, 0, source.byteLength);
      this.#whole = whole;
      this.#wholeSource = source;
    }
    const fast = this.#fastDecode;
    if (fast !== undefined) {
      const value = fast(whole, bytes.byteOffset, bytes.byteOffset + bytes.length);
      if (value !== NOT_PLAIN) return value;
    }
    if (bytes.length < SMALL_PAYLOAD && !this.#smallBusy) return this.#decodeSmall(bytes);
    const range = this.#range;
    range.start = bytes.byteOffset;
    range.end = bytes.byteOffset + bytes.length;
    try {
      return this.#unpackr.unpack(whole, range);
    } catch (err) {
      throw codecFailure('decode_failed', `msgpack: cannot decode ${bytes.length} bytes`, err);
    }
  }

  #decodeSmall(bytes: Uint8Array): unknown {
    const small = this.#small;
    small.set(bytes, 0);
    const range = this.#range;
    range.start = 0;
    range.end = bytes.length;
    this.#smallBusy = true;
    try {
      return this.#smallUnpackr.unpack(small, range);
    } catch (err) {
      throw codecFailure('decode_failed', `msgpack: cannot decode ${bytes.length} bytes`, err);
    } finally {
      this.#smallBusy = false;
    }
  }
}

/**
 * Creates a MessagePack codec (codec id 2, msgpackr). Without options it is {@link msgpackCodec}:
 * standard MessagePack that any implementation reads; `records: true` opts into msgpackr's record extension.
 * Throws {@link CodecError} `encode_failed` for a cycle or a bigint outside 64 bits, `decode_failed` for
 * bytes that are not exactly one MessagePack value.
 *
 * @example
 * ```ts
 * const codec = createMsgpackCodec({ records: true, int64: 'bigint' });
 * const bytes = codec.encode({ id: 2n ** 60n, tags: ['a'] });
 * ```
 */
export function createMsgpackCodec(options: MsgpackCodecOptions = {}): Codec {
  return new MsgpackCodec(options);
}

/**
 * Standard MessagePack (codec id 2, msgpackr without its extensions): other languages read what it writes.
 *
 * Values: objects and `Map`s become msgpack maps and decode as plain objects (map keys become strings);
 * a `Set` becomes an array; `Uint8Array` (and any typed array, as its bytes) becomes `bin` and decodes as a
 * `Buffer` that may be a view into the input bytes (change them only once the value is no longer used); a
 * `Date` uses the standard timestamp extension (-1) and decodes as a `Date`; a bigint becomes int64/uint64,
 * and int64/uint64 decode as a number within ±2^53, else as a bigint; `undefined` inside a value becomes nil
 * (decodes as `null`). A top-level `undefined` is sent as an empty payload and an empty payload decodes as
 * `undefined`. The schema is ignored.
 */
export const msgpackCodec: Codec = createMsgpackCodec();
