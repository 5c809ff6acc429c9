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
   * Throws {@link ProtocolError} on the first malformed or over-limit frame; the decoder is then unusable
   * and every later call throws the same error.
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

/** Parses a metadata block; throws on lengths that overrun it or invalid UTF-8. */
export function decodeMetadata(source: Uint8Array, offset: number, length: number): Metadata {
  const md = createMetadata();
  const end = offset + length;
  let p = offset;
  while (p < end) {
    if (p + 2 > end) throw new ProtocolError('metadata_overrun', 'metadata key length overruns the block');
    const kl = u16(source, p);
    p += 2;
    if (p + kl + 4 > end) throw new ProtocolError('metadata_overrun', 'metadata key overruns the block');
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

/** Checks the header bytes seen so far, so a bad stream fails at its first wrong byte. */
function checkPrefix(h: Uint8Array, o: number, have: number, isKnownCodec: (id: number) => boolean): void {
  if (have >= 2 && u16(h, o) !== MAGIC) {
    throw new ProtocolError(
      'bad_magic',
      `expected magic 0x4d52, got 0x${u16(h, o).toString(16).padStart(4, '0')}`,
    );
  }
  if (have >= 3 && h[o + 2] !== VERSION)
    throw new ProtocolError('bad_version', `unsupported version ${h[o + 2]}`);
  if (have >= 4 && !isFrameType(h[o + 3] as number))
    throw new ProtocolError('bad_type', `unknown frame type ${h[o + 3]}`);
  if (have >= 5 && !isKnownCodec(h[o + 4] as number))
    throw new ProtocolError('bad_codec', `unknown codec id ${h[o + 4]}`);
  if (have >= 9 && u32(h, o + 5) > 0x1f_ffff) {
    throw new ProtocolError('bad_request_id', 'request id above 2^53−1');
  }
}

/**
 * Creates an incremental frame decoder. Limits are checked on the header, before any buffer of the claimed
 * size exists, so a hostile length costs nothing. Payloads of frames that arrive whole in one chunk are
 * views into that chunk (no copy).
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
  const maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
  const maxMetadata = options.maxMetadata ?? DEFAULT_MAX_METADATA;
  const isKnownCodec = options.isKnownCodec ?? isCodecId;
  const head = new Uint8Array(HEADER_SIZE);
  let headFill = 0;
  let body: Uint8Array | null = null;
  let bodyFill = 0;
  let failure: ProtocolError | null = null;
  // Fields of the header being completed.
  let type: FrameType = 0;
  let codec = 0;
  let id = 0;
  let payloadLen = 0;
  let mdLen = 0;

  function readHeader(h: Uint8Array, o: number): void {
    checkPrefix(h, o, HEADER_SIZE, isKnownCodec);
    type = h[o + 3] as FrameType;
    codec = h[o + 4] as number;
    id = u32(h, o + 5) * 0x1_0000_0000 + u32(h, o + 9);
    payloadLen = u32(h, o + 13);
    mdLen = u32(h, o + 17);
    if (payloadLen > maxPayload) {
      throw new ProtocolError(
        'payload_too_large',
        `payload of ${payloadLen} bytes exceeds the limit of ${maxPayload}`,
      );
    }
    if (mdLen > maxMetadata) {
      throw new ProtocolError(
        'metadata_too_large',
        `metadata of ${mdLen} bytes exceeds the limit of ${maxMetadata}`,
      );
    }
  }

  function emit(source: Uint8Array, offset: number): void {
    const metadata = mdLen === 0 ? createMetadata() : decodeMetadata(source, offset, mdLen);
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
          checkPrefix(head, 0, headFill, isKnownCodec);
          if (headFill < HEADER_SIZE) return;
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
        // Limits were checked above, so this allocation is bounded by maxPayload + maxMetadata.
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
      if (failure !== null) throw failure;
      try {
        consume(chunk);
      } catch (err) {
        if (err instanceof ProtocolError) failure = err;
        throw err;
      }
    },
    get buffered() {
      return body === null ? headFill : HEADER_SIZE + bodyFill;
    },
    end() {
      if (failure !== null) throw failure;
      if (headFill > 0 || body !== null) {
        failure = new ProtocolError(
          'truncated',
          `stream ended inside a frame (${this.buffered} bytes buffered)`,
        );
        throw failure;
      }
    },
  };
}
