// End-user API

export type { Balancer, CallOutcome, PickInfo } from './balancer.js';
export { Code, codeName, isCallerError, isCode, isRetryable } from './code.js';
export type { FrameDecoder, FrameDecoderOptions } from './decoder.js';
export { createFrameDecoder, decodeMetadata } from './decoder.js';
export type { OutgoingFrame } from './encode.js';
export { encodeFrame, encodeMetadata, maxFrameSize, metadataSize, writeFrame } from './encode.js';
export type { Frame, FrameLimits } from './frame.js';
// For library authors: the wire format (docs/protocol.md)
export {
  CodecId,
  DEFAULT_MAX_METADATA,
  DEFAULT_MAX_PAYLOAD,
  FrameType,
  HEADER_SIZE,
  isCodecId,
  isFrameType,
  MAGIC,
  MAX_REQUEST_ID,
  VERSION,
} from './frame.js';
export type { CallNext, CallRequest, ClientInterceptor } from './interceptor.js';
export type { Metadata } from './metadata.js';
export { createMetadata, MetadataKey, RESERVED_PREFIX, userMetadataProblem } from './metadata.js';
export type { ServerContext, ServerMiddleware, ServerNext } from './middleware.js';
export { isThenable } from './middleware.js';
export type { Breaker, BreakerFactory, BreakerState, Limiter, RetryAttempt, RetryPolicy } from './policy.js';
export type { ProtocolErrorKind } from './protocol-error.js';
export { isProtocolError, ProtocolError } from './protocol-error.js';
export type { Registry, RegistryWatch, ServiceInstance, WatchListener } from './registry.js';
// Contracts the other packages implement and plug into each other
export { IDEMPOTENT_METADATA_KEY } from './registry.js';
export { RequestMap } from './request-map.js';
export type { RpcErrorOptions } from './rpc-error.js';
export { RpcError, thrownText } from './rpc-error.js';
export { utf8Length } from './utf8.js';
