/**
 * Names the message type for protobuf: which method, and whether the bytes are its request or its
 * response. Schemaless codecs (JSON, MessagePack) ignore it. Callers cache one per method and direction.
 */
export interface CodecSchema {
  readonly service: string;
  readonly method: string;
  readonly kind: 'request' | 'response';
}

/**
 * Turns values into bytes and back. `id` is the codec byte of the frame (`CodecId` in @mini-rpc/protocol).
 * `decode` throws {@link CodecError} on bytes it cannot read, never a raw library exception.
 */
export interface Codec {
  readonly id: number;
  readonly name: string;
  encode(value: unknown, schema?: CodecSchema): Uint8Array;
  decode(bytes: Uint8Array, schema?: CodecSchema): unknown;
}
