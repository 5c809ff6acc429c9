import type { Codec } from '@mini-rpc/codec';
import { createProtobufCodec, jsonCodec, msgpackCodec } from '@mini-rpc/codec';
import { ORDER_PROTO } from '../micro/message.js';
import type { CodecName } from './case-spec.js';

/** The Echo service's protobuf schema: the micro bench's `Order` plus a `Blob` of opaque bytes. */
const ECHO_PROTO = `${ORDER_PROTO}\nmessage Blob { bytes data = 1; }\n`;

let codecs: Record<Exclude<CodecName, 'raw'>, Codec> | undefined;

/** The codecs of the load bench, shared by server and client so both agree on the protobuf schema. */
export function benchCodecs(): Record<Exclude<CodecName, 'raw'>, Codec> {
  codecs ??= {
    json: jsonCodec,
    msgpack: msgpackCodec,
    protobuf: createProtobufCodec({
      proto: ECHO_PROTO,
      methods: {
        'Echo.echo': { request: 'bench.Blob', response: 'bench.Blob' },
        'Echo.order': { request: 'bench.Order', response: 'bench.Order' },
      },
    }),
  };
  return codecs;
}
