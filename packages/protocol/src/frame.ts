import type { Metadata } from './metadata.js';

/** The first two bytes of every frame: "MR". */
export const MAGIC = 0x4d52;
/** The protocol version this package speaks. */
export const VERSION = 1;
/** Size of the fixed header in bytes: magic, version, type, codec, id, payload length, metadata length. */
export const HEADER_SIZE = 21;
/** Default limit on the payload length: 4 MiB. */
export const DEFAULT_MAX_PAYLOAD = 4 * 1024 * 1024;
/** Default limit on the metadata block length: 64 KiB. */
export const DEFAULT_MAX_METADATA = 64 * 1024;
/** Largest request id: ids are u64 on the wire but must fit a JavaScript safe integer. */
export const MAX_REQUEST_ID = Number.MAX_SAFE_INTEGER;

/** Frame types (byte 3). */
export const FrameType = {
  /** A call: service, method and arguments. */
  Request: 0x00,
  /** The answer to a Request with the same id: a result, or a status and message. */
  Response: 0x01,
  /** Sent by either side when it has written nothing for a while; keeps the peer from declaring it dead. */
  Heartbeat: 0x02,
  /** Client → server: the caller stopped waiting for the request with this id; abort its handler. */
  Cancel: 0x03,
  /** Server → client: take no new calls here; calls with an id above the one given were not run. */
  GoAway: 0x04,
} as const;
/** One of the values of {@link FrameType}. */
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Codec ids (byte 4). */
export const CodecId = {
  Json: 0x00,
  Protobuf: 0x01,
  MessagePack: 0x02,
} as const;
/** One of the values of {@link CodecId}. */
export type CodecId = (typeof CodecId)[keyof typeof CodecId];

/** True when `value` is a frame type this version knows (an integer 0…4). */
export function isFrameType(value: number): value is FrameType {
  // `(value | 0) === value`: 1.5 is no type (the encoder checks types with this, not only bytes).
  return (value | 0) === value && value >= FrameType.Request && value <= FrameType.GoAway;
}

/** True when `value` is one of the codec ids of {@link CodecId}. */
export function isCodecId(value: number): value is CodecId {
  return value === CodecId.Json || value === CodecId.Protobuf || value === CodecId.MessagePack;
}

/** One frame, as decoded from or encoded onto the wire. */
export interface Frame {
  type: FrameType;
  codec: number;
  /** Request id; unique per connection while the call is in flight. */
  id: number;
  /**
   * On decode, read-only: frames that carry the same recent block, or none, share one frozen object. Copy it
   * before adding keys.
   */
  metadata: Metadata;
  /** The codec bytes. On decode this may be a view into the received chunk: copy it to keep it long. */
  payload: Uint8Array;
}

/** Size limits a decoder enforces before it buffers anything. */
export interface FrameLimits {
  /** Largest payload accepted, in bytes. Default {@link DEFAULT_MAX_PAYLOAD}. */
  maxPayload?: number;
  /** Largest metadata block accepted, in bytes. Default {@link DEFAULT_MAX_METADATA}. */
  maxMetadata?: number;
}
