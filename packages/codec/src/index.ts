// End-user API

// For library authors: the contract, the ids, and lookup by the codec byte of a frame
export type { Codec, CodecSchema } from './codec.js';
export type { CodecErrorCode } from './codec-error.js';
export { CodecError, isCodecError } from './codec-error.js';
export { CodecId } from './codec-id.js';
export type { CodecRegistry } from './codec-registry.js';
export { codecFor, createCodecRegistry } from './codec-registry.js';
export { jsonCodec } from './json-codec.js';
export type { MsgpackCodecOptions } from './msgpack-codec.js';
export { createMsgpackCodec, msgpackCodec } from './msgpack-codec.js';
export type { ProtobufCodecOptions, ProtobufMethodTypes } from './protobuf-codec.js';
export { createProtobufCodec } from './protobuf-codec.js';
