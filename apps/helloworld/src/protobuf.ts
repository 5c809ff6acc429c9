import type { Codec } from '@mini-rpc/codec';
import { createProtobufCodec } from '@mini-rpc/codec';
import { GREETER_PROTO, GREETER_PROTO_METHODS } from './greeter.js';

/** The Protobuf codec for the Greeter's messages; server and client each make one from the same `.proto`. */
export function greeterProtobuf(): Codec {
  return createProtobufCodec({ proto: GREETER_PROTO, methods: GREETER_PROTO_METHODS });
}
