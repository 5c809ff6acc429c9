import type { Frame, FrameLimits, FrameType } from './frame.js';
import {
  DEFAULT_MAX_METADATA,
  DEFAULT_MAX_PAYLOAD,
  HEADER_SIZE,
  isCodecId,
  isFrameType,
  MAGIC,
  VERSION,
} from './frame.js';
import type { Metadata } from './metadata.js';
import { createMetadata } from './metadata.js';
import { ProtocolError } from './protocol-error.js';
import { readUtf8 } from './utf8.js';

/** Options for {@link createFrameDecoder}. */
export interface FrameDecoderOptions extends FrameLimits {
  /** Which codec ids to accept; default the three of `CodecId`. */
  isKnownCodec?: (id: number) => boolean;
}

/** An incremental decoder: feed it chunks of a byte stream, split anywhere, and it emits whole frames. */
export interface FrameDecoder {
  /**
   * Consumes `chunk`, calling `onFrame` for each frame it completes, in order.
   * Throws {@link ProtocolError} on the first malformed or over-limit frame, at the first byte that shows it
   * (a bad magic at byte 0 or 1, an over-limit payload length once its four bytes are in). The decoder is
   * then unusable and every later call throws the same error. An error thrown by `onFrame` propagates
   * and leaves the decoder unusable in the same way.
   */
  push(chunk: Uint8Array): void;
  /** Bytes held for an incomplete frame. */
  readonly buffered: number;
  /** Call at end of stream: throws ProtocolError('truncated') if a frame was cut off. */
  end(): void;
}

const u16 = (b: Uint8Array, o: number): number => ((b[o] as number) << 8) | (b[o + 1] as number);
const u32 = (b: Uint8Array, o: number): number =>
  (b[o] as number) * 0x100_0000 +
  (((b[o + 1] as number) << 16) | ((b[o + 2] as number) << 8) | (b[o + 3] as number));

// Frames without metadata (most Responses, Heartbeats, Cancels) share one frozen empty object.
const EMPTY_METADATA: Metadata = Object.freeze(createMetadata());

/**
 * The decoder remembers this many recent metadata blocks, byte for byte, with their frozen objects. The
 * requests of one connection mostly repeat a few blocks (service, method and the same timeout), and a hit
 * costs a byte compare instead of a dictionary and its strings (issue #7).
 */
const MD_CACHE_SLOTS = 4;
/** Blocks longer than this are decoded every time. */
const MD_CACHE_MAX_BYTES = 256;
/** After this many misses in a row (per-call values such as trace ids), the cache rests… */
const MD_CACHE_MAX_MISSES = 8;
/** …for this many blocks, then tries again. */
const MD_CACHE_REST = 256;

/**
 * Parses a metadata block (an empty block gives a shared, frozen empty object); throws ProtocolError on lengths
 * that overrun it or invalid UTF-8, and RangeError when `offset` and `length` do not name bytes of `source`.
 */
export function decodeMetadata(source: Uint8Array, offset: number, length: number): Metadata {
  // Outside `source`, reads give undefined: missing bytes would parse as pairs that were never sent.
  if (
    !(offset >= 0 && length >= 0 && offset + length <= source.length) ||
    !Number.isInteger(offset) ||
    !Number.isInteger(length)
  )
    throw new RangeError(`metadata block ${offset}+${length} is outside the ${source.length} bytes given`);
  if (length === 0) return EMPTY_METADATA;
  const md = createMetadata();
  const end = offset + length;
  let p = offset;
  while (p < end) {
    if (p + 2 > end) throw new ProtocolError('metadata_overrun', 'metadata key length overruns the block');
    const kl = u16(source, p);
    p += 2;
    if (p + kl + 4 > end) {
      // The first rule broken in byte order wins (docs/protocol.md §6): a key that fits the block but is not
      // UTF-8 comes before the value length that runs past it. Sorted out here, off the path of good blocks.
      if (p + kl > end) throw new ProtocolError('metadata_overrun', 'metadata key overruns the block');
      readUtf8(source, p, kl);
      throw new ProtocolError('metadata_overrun', 'metadata value length overruns the block');
    }
    const key = readUtf8(source, p, kl);
    p += kl;
    const vl = u32(source, p);
    p += 4;
    if (p + vl > end) throw new ProtocolError('metadata_overrun', 'metadata value overruns the block');
    md[key] = readUtf8(source, p, vl);
    p += vl;
  }
  return md;
}

interface HeaderRules {
  readonly maxPayload: number;
  readonly maxMetadata: number;
  readonly isKnownCodec: (id: number) => boolean;
}

const hex = (b: Uint8Array, o: number, n: number): string => {
  let s = '';
  for (let i = 0; i < n; i++) s += (b[o + i] as number).toString(16).padStart(2, '0');
  return s;
};

/**
 * Checks the first `have` (1…HEADER_SIZE) header bytes at `o`, so a bad stream fails at its first wrong
 * byte and a length over its limit fails as soon as its field is complete (docs/protocol.md §6).
 */
function checkHeader(h: Uint8Array, o: number, have: number, rules: HeaderRules): void {
  if (h[o] !== MAGIC >>> 8 || (have > 1 && h[o + 1] !== (MAGIC & 0xff))) {
    throw new ProtocolError('bad_magic', `expected magic 4d52, got ${hex(h, o, have > 1 ? 2 : 1)}`);
  }
  if (have < 3) return;
  if (h[o + 2] !== VERSION) throw new ProtocolError('bad_version', `unsupported version ${h[o + 2]}`);
  if (have < 4) return;
  if (!isFrameType(h[o + 3] as number)) throw new ProtocolError('bad_type', `unknown frame type ${h[o + 3]}`);
  if (have < 5) return;
  if (!rules.isKnownCodec(h[o + 4] as number))
    throw new ProtocolError('bad_codec', `unknown codec id ${h[o + 4]}`);
  // A u64 id at most 2^53−1 (0x001fffffffffffff) has byte 5 zero and byte 6 at most 0x1f.
  if (h[o + 5] !== 0 || (have > 6 && (h[o + 6] as number) > 0x1f)) {
    throw new ProtocolError('bad_request_id', 'request id above 2^53−1');
  }
  if (have < 17) return;
  const payloadLen = u32(h, o + 13);
  if (payloadLen > rules.maxPayload) {
    throw new ProtocolError(
      'payload_too_large',
      `payload of ${payloadLen} bytes exceeds the limit of ${rules.maxPayload}`,
    );
  }
  if (have < HEADER_SIZE) return;
  const mdLen = u32(h, o + 17);
  if (mdLen > rules.maxMetadata) {
    throw new ProtocolError(
      'metadata_too_large',
      `metadata of ${mdLen} bytes exceeds the limit of ${rules.maxMetadata}`,
    );
  }
}

/**
 * A size limit option: `fallback` when undefined, else a number ≥ 0 (Infinity: no limit but the u32 field).
 * NaN compares false with every length, so it would switch the check off: `Number(process.env.X)` of an
 * unset variable must not let a header that claims 4 GiB be buffered.
 */
function limit(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0))
    throw new TypeError(`${name} must be a number of bytes ≥ 0, got ${String(value)}`);
  return value;
}

/**
 * Creates an incremental frame decoder. Limits are checked on the header, before any buffer of the claimed
 * size exists, so a hostile length costs nothing. Payloads of frames that arrive whole in one chunk are
 * views into that chunk (no copy). Throws TypeError for a limit that is not a number ≥ 0.
 *
 * @example
 * ```ts
 * const decoder = createFrameDecoder((frame) => dispatch(frame), { maxPayload: 1 << 20 });
 * socket.on('data', (chunk) => decoder.push(chunk));
 * ```
 */
export function createFrameDecoder(
  onFrame: (frame: Frame) => void,
  options: FrameDecoderOptions = {},
): FrameDecoder {
  const rules: HeaderRules = {
    maxPayload: limit('maxPayload', options.maxPayload, DEFAULT_MAX_PAYLOAD),
    maxMetadata: limit('maxMetadata', options.maxMetadata, DEFAULT_MAX_METADATA),
    isKnownCodec: options.isKnownCodec ?? isCodecId,
  };
  if (typeof rules.isKnownCodec !== 'function')
    throw new TypeError(`isKnownCodec must be a function, got ${String(rules.isKnownCodec)}`);
  const head = new Uint8Array(HEADER_SIZE);
  let headFill = 0;
  let body: Uint8Array | null = null;
  let bodyFill = 0;
  let failed = false;
  let failure: unknown = null;
  // Fields of the header being completed.
  let type: FrameType = 0;
  let codec = 0;
  let id = 0;
  let payloadLen = 0;
  let mdLen = 0;
  const mdBlocks: (Uint8Array | undefined)[] = new Array(MD_CACHE_SLOTS).fill(undefined);
  const mdObjects: Metadata[] = new Array(MD_CACHE_SLOTS).fill(EMPTY_METADATA);
  let mdNextSlot = 0;
  let mdMisses = 0;
  let mdRest = 0;

  /**
   * The metadata of the block at `offset` (`mdLen` bytes): from the cache when it was seen lately. What the
   * cache holds is shared between frames, so it is frozen; a block decoded outside it gets an object of its
   * own, not frozen (freezing a dictionary object costs ~250 ns, as much as decoding it).
   */
  function metadataAt(source: Uint8Array, offset: number): Metadata {
    if (mdLen === 0) return EMPTY_METADATA;
    if (mdLen > MD_CACHE_MAX_BYTES) return decodeMetadata(source, offset, mdLen);
    if (mdRest > 0) {
      mdRest--;
      return decodeMetadata(source, offset, mdLen);
    }
    for (let s = 0; s < MD_CACHE_SLOTS; s++) {
      const block = mdBlocks[s];
      if (block === undefined || block.length !== mdLen) continue;
      let i = 0;
      while (i < mdLen && block[i] === source[offset + i]) i++;
      if (i === mdLen) {
        mdMisses = 0;
        return mdObjects[s] as Metadata;
      }
    }
    const md = Object.freeze(decodeMetadata(source, offset, mdLen));
    if (++mdMisses >= MD_CACHE_MAX_MISSES) {
      mdMisses = 0;
      mdRest = MD_CACHE_REST;
    }
    const block = new Uint8Array(mdLen);
    block.set(source.subarray(offset, offset + mdLen));
    mdBlocks[mdNextSlot] = block;
    mdObjects[mdNextSlot] = md;
    mdNextSlot = (mdNextSlot + 1) % MD_CACHE_SLOTS;
    return md;
  }

  function readHeader(h: Uint8Array, o: number): void {
    checkHeader(h, o, HEADER_SIZE, rules);
    type = h[o + 3] as FrameType;
    codec = h[o + 4] as number;
    id = u32(h, o + 5) * 0x1_0000_0000 + u32(h, o + 9);
    payloadLen = u32(h, o + 13);
    mdLen = u32(h, o + 17);
  }

  function emit(source: Uint8Array, offset: number): void {
    const metadata = metadataAt(source, offset);
    const start = offset + mdLen;
    onFrame({ type, codec, id, metadata, payload: source.subarray(start, start + payloadLen) });
  }

  function consume(chunk: Uint8Array): void {
    let pos = 0;
    const len = chunk.length;
    while (pos < len) {
      if (body === null) {
        if (headFill === 0 && len - pos >= HEADER_SIZE) {
          readHeader(chunk, pos);
          pos += HEADER_SIZE;
        } else {
          const n = Math.min(HEADER_SIZE - headFill, len - pos);
          head.set(chunk.subarray(pos, pos + n), headFill);
          headFill += n;
          pos += n;
          if (headFill < HEADER_SIZE) {
            checkHeader(head, 0, headFill, rules);
            return;
          }
          headFill = 0;
          readHeader(head, 0);
        }
        const bodyLen = mdLen + payloadLen;
        if (len - pos >= bodyLen) {
          const at = pos;
          pos += bodyLen;
          emit(chunk, at);
          continue;
        }
        // Limits were checked on the header, so this allocation is bounded by maxPayload + maxMetadata.
        body = new Uint8Array(bodyLen);
        bodyFill = len - pos;
        body.set(chunk.subarray(pos), 0);
        return;
      }
      const n = Math.min(body.length - bodyFill, len - pos);
      body.set(chunk.subarray(pos, pos + n), bodyFill);
      bodyFill += n;
      pos += n;
      if (bodyFill < body.length) return;
      const full = body;
      body = null;
      emit(full, 0);
    }
  }

  return {
    push(chunk) {
      if (failed) throw failure;
      try {
        consume(chunk);
      } catch (err) {
        // Whatever threw (a bad frame or onFrame itself), the rest of this chunk is lost: later bytes
        // cannot be framed any more, so the decoder stays failed rather than resynchronise on garbage.
        failed = true;
        failure = err;
        throw err;
      }
    },
    get buffered() {
      return body === null ? headFill : HEADER_SIZE + bodyFill;
    },
    end() {
      if (failed) throw failure;
      if (headFill > 0 || body !== null) {
        failed = true;
        failure = new ProtocolError(
          'truncated',
          `stream ended inside a frame (${this.buffered} bytes buffered)`,
        );
        throw failure;
      }
    },
  };
}
