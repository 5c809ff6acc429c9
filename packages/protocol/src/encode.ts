import { Code } from './code.js';
import type { FrameType } from './frame.js';
import { HEADER_SIZE, isCodecId, isFrameType, MAGIC, MAX_REQUEST_ID, VERSION } from './frame.js';
import type { Metadata } from './metadata.js';
import { ProtocolError } from './protocol-error.js';
import { RpcError } from './rpc-error.js';
import { utf8Length, writeUtf8 } from './utf8.js';

const EMPTY = new Uint8Array(0);
const MAX_KEY_BYTES = 0xffff;

/** The value of `key`; throws RpcError(InvalidArgument) when it is not a string (plain-JS callers). */
function stringAt(md: Metadata, key: string): string {
  const value = md[key];
  if (typeof value !== 'string')
    throw new RpcError(Code.InvalidArgument, `metadata value of "${key}" is a ${typeof value}, not a string`);
  return value;
}

/** A frame to send. `rawMetadata` is metadata already encoded by {@link encodeMetadata}, sent before `metadata`. */
export interface OutgoingFrame {
  type: FrameType;
  codec: number;
  id: number;
  metadata?: Metadata | undefined;
  rawMetadata?: Uint8Array | undefined;
  /**
   * Written as the reserved `:t` pair (whole milliseconds, rounded up) after the other metadata, without
   * building a metadata object or a string per call.
   */
  timeoutMs?: number | undefined;
  payload?: Uint8Array | undefined;
}

// ':t' pair: key length 2, key bytes; the value length and digits follow.
const TIMEOUT_KEY = [0x00, 0x02, 0x3a, 0x74] as const;
const TIMEOUT_PAIR_MAX = 4 + 4 + 16;

/** Writes the `:t` pair for `ms` at `offset`; returns the bytes written. */
function writeTimeout(ms: number, target: Uint8Array, offset: number): number {
  let value = Math.ceil(ms);
  if (!(value >= 0) || value > Number.MAX_SAFE_INTEGER) {
    throw new RpcError(Code.InvalidArgument, `timeout ${ms} is not a number of milliseconds`);
  }
  target.set(TIMEOUT_KEY, offset);
  let digits = 1;
  for (let v = value; v >= 10; v = Math.floor(v / 10)) digits++;
  writeU32(target, offset + 4, digits);
  for (let i = digits - 1; i >= 0; i--) {
    target[offset + 8 + i] = 0x30 + (value % 10);
    value = Math.floor(value / 10);
  }
  return 8 + digits;
}

/**
 * An upper bound of the encoded size of `frame`, cheap to compute (3 bytes per UTF-16 unit of metadata).
 * A transport sizes one buffer for a batch of frames with it and then calls {@link writeFrame} for each.
 */
export function maxFrameSize(frame: OutgoingFrame): number {
  let size = HEADER_SIZE + (frame.payload?.length ?? 0) + (frame.rawMetadata?.length ?? 0);
  if (frame.timeoutMs !== undefined) size += TIMEOUT_PAIR_MAX;
  const md = frame.metadata;
  if (md !== undefined) {
    for (const key in md) size += 6 + 3 * (key.length + stringAt(md, key).length);
  }
  return size;
}

/** Writes the metadata pairs at `offset`; returns the bytes written. */
function writeMetadata(md: Metadata, target: Uint8Array, offset: number): number {
  let p = offset;
  for (const key in md) {
    const value = stringAt(md, key);
    const kl = writeUtf8(key, target, p + 2);
    if (kl > MAX_KEY_BYTES)
      throw new ProtocolError('metadata_too_large', `metadata key longer than ${MAX_KEY_BYTES} bytes`);
    target[p] = kl >>> 8;
    target[p + 1] = kl & 0xff;
    p += 2 + kl;
    const vl = writeUtf8(value, target, p + 4);
    target[p] = vl >>> 24;
    target[p + 1] = (vl >>> 16) & 0xff;
    target[p + 2] = (vl >>> 8) & 0xff;
    target[p + 3] = vl & 0xff;
    p += 4 + vl;
  }
  return p - offset;
}

function writeU32(target: Uint8Array, offset: number, value: number): void {
  target[offset] = value >>> 24;
  target[offset + 1] = (value >>> 16) & 0xff;
  target[offset + 2] = (value >>> 8) & 0xff;
  target[offset + 3] = value & 0xff;
}

/**
 * Writes `frame` into `target` at `offset` and returns the number of bytes written.
 * `target` needs at least {@link maxFrameSize} bytes of room. The payload is copied once, here.
 * Throws ProtocolError('bad_type' | 'bad_codec') for a type or codec id that a receiver refuses (docs/protocol.md
 * §6), ProtocolError('bad_request_id') for an id outside 0…2^53−1, ProtocolError('metadata_too_large') for
 * a metadata key over 65,535 bytes, RpcError(InvalidArgument) for a metadata value that is not a string.
 */
export function writeFrame(frame: OutgoingFrame, target: Uint8Array, offset: number): number {
  // Whatever the encoder writes, a receiver must accept: a type of 0x100 would otherwise go out as its low
  // byte (a Request), a type of 5 would make the peer close the connection (bad_type).
  if (!isFrameType(frame.type)) throw new ProtocolError('bad_type', `unknown frame type ${frame.type}`);
  if (!isCodecId(frame.codec)) throw new ProtocolError('bad_codec', `unknown codec id ${frame.codec}`);
  const id = frame.id;
  if (!(id >= 0 && id <= MAX_REQUEST_ID) || !Number.isInteger(id)) {
    throw new ProtocolError('bad_request_id', `request id ${id} is not an integer in 0…2^53−1`);
  }
  const payload = frame.payload ?? EMPTY;
  let mdLen = 0;
  const raw = frame.rawMetadata;
  if (raw !== undefined && raw.length > 0) {
    target.set(raw, offset + HEADER_SIZE);
    mdLen = raw.length;
  }
  if (frame.metadata !== undefined)
    mdLen += writeMetadata(frame.metadata, target, offset + HEADER_SIZE + mdLen);
  if (frame.timeoutMs !== undefined)
    mdLen += writeTimeout(frame.timeoutMs, target, offset + HEADER_SIZE + mdLen);
  target[offset] = MAGIC >>> 8;
  target[offset + 1] = MAGIC & 0xff;
  target[offset + 2] = VERSION;
  target[offset + 3] = frame.type;
  target[offset + 4] = frame.codec;
  writeU32(target, offset + 5, Math.floor(id / 0x1_0000_0000));
  writeU32(target, offset + 9, id >>> 0);
  writeU32(target, offset + 13, payload.length);
  writeU32(target, offset + 17, mdLen);
  if (payload.length > 0) target.set(payload, offset + HEADER_SIZE + mdLen);
  return HEADER_SIZE + mdLen + payload.length;
}

/** Encodes one frame into a new, exactly sized Uint8Array. */
export function encodeFrame(frame: OutgoingFrame): Uint8Array {
  const scratch = new Uint8Array(maxFrameSize(frame));
  const n = writeFrame(frame, scratch, 0);
  return n === scratch.length ? scratch : scratch.slice(0, n);
}

/**
 * Encodes metadata pairs once, for reuse as `rawMetadata` on many frames (e.g. the service and method of a
 * typed proxy method). Encoded blocks may be concatenated.
 */
export function encodeMetadata(md: Metadata): Uint8Array {
  let bound = 0;
  for (const key in md) bound += 6 + 3 * (key.length + stringAt(md, key).length);
  const scratch = new Uint8Array(bound);
  return scratch.slice(0, writeMetadata(md, scratch, 0));
}

/** Exact encoded size of `md` in bytes (what the metadata length field will say). */
export function metadataSize(md: Metadata): number {
  let n = 0;
  for (const key in md) n += 6 + utf8Length(key) + utf8Length(stringAt(md, key));
  return n;
}
