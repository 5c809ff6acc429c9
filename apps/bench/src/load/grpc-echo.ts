import type { MethodDefinition } from '@grpc/grpc-js';

const identity = (b: Buffer): Buffer => b;

/**
 * The grpc-js echo method, hand-written with raw Buffer serializers (no protobuf on either side), so grpc-js
 * moves exactly the bytes the other stacks move: the fairest case for it.
 */
export const GRPC_ECHO: MethodDefinition<Buffer, Buffer> = {
  path: '/bench.Echo/Echo',
  requestStream: false,
  responseStream: false,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
};
