/**
 * The codec ids this package uses, the codec byte of a frame (offset 4, docs/protocol.md). The values match
 * `CodecId` of @mini-rpc/protocol; they are repeated here because codec depends on no other package.
 */
export const CodecId = {
  /** {@link jsonCodec}. */
  Json: 0x00,
  /** {@link createProtobufCodec}. */
  Protobuf: 0x01,
  /** {@link msgpackCodec} and {@link createMsgpackCodec}. */
  MessagePack: 0x02,
} as const;

/** One of the values of {@link CodecId}. */
export type CodecId = (typeof CodecId)[keyof typeof CodecId];
