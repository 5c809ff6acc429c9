import { isDeepStrictEqual } from 'node:util';
import type { Codec, CodecSchema } from '@mini-rpc/codec';
import { createProtobufCodec, jsonCodec, msgpackCodec } from '@mini-rpc/codec';
import type { Bench } from 'tinybench';
import { ORDER_PROTO, orderMessage } from './message.js';

/** The codecs compared; JSON is the baseline row. */
export interface BenchCodecs {
  json: Codec;
  msgpack: Codec;
  protobuf: Codec;
}

/** Creates the codecs of the benchmark: the package's JSON and MessagePack, and Protobuf for the message. */
export function benchCodecs(): BenchCodecs {
  const protobuf = createProtobufCodec({
    proto: ORDER_PROTO,
    methods: { 'Orders.place': { request: 'bench.Order', response: 'bench.Order' } },
  });
  return { json: jsonCodec, msgpack: msgpackCodec, protobuf };
}

/** Task name of the encode+decode row of `codec`; the ratio table looks rows up by it. */
export const codecRoundTripTask = (codec: Codec): string => `codec ${codec.name} encode+decode 1KiB`;

/** Throws unless `codec` round-trips `message` exactly: a benchmark of a broken codec measures nothing. */
function checkRoundTrip(codec: Codec, message: unknown, schema: CodecSchema): number {
  const bytes = codec.encode(message, schema);
  if (!isDeepStrictEqual(codec.decode(bytes, schema), message))
    throw new Error(`${codec.name} does not round-trip the bench message`);
  return bytes.length;
}

/**
 * Adds encode, decode and encode+decode tasks of the ~1 KiB message for each codec. Fixtures (message,
 * schema, encoded bytes) are built here, outside the timed functions. Returns the encoded size per codec.
 */
export function addCodecTasks(bench: Bench, codecs: readonly Codec[]): Record<string, number> {
  const schema: CodecSchema = { service: 'Orders', method: 'place', kind: 'request' };
  const sizes: Record<string, number> = {};
  let sink: unknown;
  for (const codec of codecs) {
    const message = orderMessage();
    sizes[codec.name] = checkRoundTrip(codec, message, schema);
    const bytes = codec.encode(message, schema);
    bench.add(codecRoundTripTask(codec), () => {
      sink = codec.decode(codec.encode(message, schema), schema);
    });
    bench.add(`codec ${codec.name} encode 1KiB`, () => {
      sink = codec.encode(message, schema);
    });
    bench.add(`codec ${codec.name} decode 1KiB`, () => {
      sink = codec.decode(bytes, schema);
    });
  }
  // Keeps the results observable so the optimiser cannot drop the calls.
  bench.addEventListener('complete', () => {
    if (sink === Symbol.for('never')) console.log(sink);
  });
  return sizes;
}
