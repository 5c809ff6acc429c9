import type { Codec } from './codec.js';
import { CodecError } from './codec-error.js';
import { CodecId } from './codec-id.js';
import { jsonCodec } from './json-codec.js';
import { msgpackCodec } from './msgpack-codec.js';

/** Finds the codec for the codec byte of a frame. */
export interface CodecRegistry {
  /** The codec with id `id`. Throws {@link CodecError} `unknown_codec` when none is registered. */
  get(id: number): Codec;
  /** True when a codec with id `id` is registered (fits `FrameDecoderOptions.isKnownCodec`). */
  has(id: number): boolean;
  /** The registered codecs, in the order given. */
  readonly codecs: readonly Codec[];
}

function unknownCodec(id: number): CodecError {
  const hint = id === 1 ? ' (protobuf needs its message types: register createProtobufCodec(...))' : '';
  return new CodecError('unknown_codec', `no codec with id ${id}${hint}`);
}

/**
 * Creates a lookup of codecs by id byte: an array index per call. Later codecs do not replace earlier ones.
 * Throws {@link CodecError} `invalid_options` for two codecs with one id, or an id that is not one of
 * {@link CodecId} (0, 1, 2): the only codec bytes a frame may carry (docs/protocol.md §2), so a codec of your
 * own stands in for one of them.
 *
 * @example
 * ```ts
 * const codecs = createCodecRegistry([jsonCodec, msgpackCodec, createProtobufCodec(protoOptions)]);
 * const value = codecs.get(frame.codec).decode(frame.payload, schema);
 * ```
 */
export function createCodecRegistry(codecs: readonly Codec[]): CodecRegistry {
  const table: (Codec | undefined)[] = new Array(256).fill(undefined);
  for (const codec of codecs) {
    // A peer closes the connection on any other codec byte (bad_codec, docs/protocol.md §6): a codec under
    // such an id could be registered but never used.
    if (codec.id !== CodecId.Json && codec.id !== CodecId.Protobuf && codec.id !== CodecId.MessagePack) {
      throw new CodecError(
        'invalid_options',
        `codec ${codec.name} has id ${codec.id}; a frame's codec byte is 0 (JSON), 1 (Protobuf) or 2 (MessagePack)`,
      );
    }
    const other = table[codec.id];
    if (other !== undefined) {
      throw new CodecError('invalid_options', `codecs ${other.name} and ${codec.name} share id ${codec.id}`);
    }
    table[codec.id] = codec;
  }
  const list = Object.freeze([...codecs]);
  return {
    get(id) {
      const codec = table[id];
      if (codec === undefined) throw unknownCodec(id);
      return codec;
    },
    has(id) {
      return table[id] !== undefined;
    },
    codecs: list,
  };
}

const builtIn = createCodecRegistry([jsonCodec, msgpackCodec]);

/**
 * The built-in codec for `id`: {@link jsonCodec} (0) or {@link msgpackCodec} (2).
 * Throws {@link CodecError} `unknown_codec` for any other id, including 1: protobuf needs its message types,
 * so create it with {@link createProtobufCodec} and look it up in a {@link createCodecRegistry}.
 */
export function codecFor(id: number): Codec {
  return builtIn.get(id);
}
