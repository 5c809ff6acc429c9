import { describe, expect, it } from 'vitest';
import type { DecodeOutcome } from '../test/support.js';
import {
  bytesToHex,
  concat,
  createRandom,
  cut,
  decodeChunks,
  oneByteChunks,
  referenceDecode,
} from '../test/support.js';
import type { FrameDecoderOptions, OutgoingFrame } from './index.js';
import { CodecId, encodeFrame, FrameType, MAX_REQUEST_ID } from './index.js';

const SEED = 0x5eed_2024;
const INPUTS = 100_000;
const SMALL: FrameDecoderOptions = { maxPayload: 64, maxMetadata: 64 };

/** Valid frames to mutate: every type, codecs, ids at the edges, non-ASCII metadata, limit-sized payloads. */
const seeds: Uint8Array[] = (
  [
    {
      type: FrameType.Request,
      codec: CodecId.Json,
      id: 1,
      metadata: { ':s': 'Arith', ':m': 'add', ':t': '15' },
    },
    {
      type: FrameType.Response,
      codec: CodecId.MessagePack,
      id: 2 ** 32,
      payload: new Uint8Array([0x81, 0xa1]),
    },
    { type: FrameType.Response, codec: CodecId.Json, id: 7, metadata: { ':c': '8', ':e': 'Zoë 日本 🚀' } },
    { type: FrameType.Heartbeat, codec: CodecId.Json, id: 0 },
    { type: FrameType.Cancel, codec: CodecId.Protobuf, id: MAX_REQUEST_ID },
    { type: FrameType.GoAway, codec: CodecId.Json, id: 3, metadata: { ':c': '14', '': '' } },
    { type: FrameType.Request, codec: CodecId.Json, id: 5, payload: new Uint8Array(64).fill(0x61) },
    { type: FrameType.Request, codec: CodecId.Json, id: 6, metadata: { k: 'v'.repeat(57) } },
  ] satisfies OutgoingFrame[]
).map((f) => encodeFrame(f));

const INTERESTING = [0x00, 0x01, 0x1f, 0x20, 0x3f, 0x40, 0x41, 0x4d, 0x52, 0x7f, 0x80, 0xc3, 0xed, 0xff];

function generate(rnd: ReturnType<typeof createRandom>): Uint8Array {
  const pick = <T>(xs: readonly T[]): T => xs[rnd.int(xs.length)] as T;
  const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => rnd.int(256));
  const r = rnd.next();
  if (r < 0.1) return randomBytes(rnd.int(80));
  // Random bytes behind a valid magic and version, so the rest of the header gets exercised too.
  if (r < 0.2) return concat([new Uint8Array([0x4d, 0x52, 1]), randomBytes(rnd.int(80))]);
  let bytes = concat(Array.from({ length: 1 + rnd.int(3) }, () => pick(seeds)));
  const mutations = 1 + rnd.int(4);
  for (let m = 0; m < mutations; m++) {
    const at = rnd.int(bytes.length + 1);
    switch (rnd.int(6)) {
      case 0: // bit flip
        if (at < bytes.length) bytes[at] = (bytes[at] as number) ^ (1 << rnd.int(8));
        break;
      case 1: // interesting byte
        if (at < bytes.length) bytes[at] = pick(INTERESTING);
        break;
      case 2: // truncation
        bytes = bytes.slice(0, at);
        break;
      case 3: {
        // duplication of a slice
        const len = rnd.int(24);
        bytes = concat([bytes.subarray(0, at), bytes.subarray(at, at + len), bytes.subarray(at)]);
        break;
      }
      case 4: // insertion of random bytes
        bytes = concat([bytes.subarray(0, at), randomBytes(1 + rnd.int(8)), bytes.subarray(at)]);
        break;
      default: // deletion
        bytes = concat([bytes.subarray(0, at), bytes.subarray(at + 1 + rnd.int(8))]);
    }
  }
  return bytes;
}

describe('decoder fuzz', () => {
  it(`${INPUTS} random and mutated inputs give only valid frames or a ProtocolError, as the reference says`, () => {
    const rnd = createRandom(SEED);
    const kinds = new Map<string, number>();
    let framesSeen = 0;
    const started = performance.now();
    // Nearly every input throws; capturing vitest's deep stacks would be most of the run time.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 1;
    try {
      for (let i = 0; i < INPUTS; i++) {
        const bytes = generate(rnd);
        const options = i % 10 === 0 ? {} : SMALL;
        let outcome: DecodeOutcome;
        try {
          // decodeChunks rethrows anything that is not a ProtocolError: that would be a decoder bug.
          outcome =
            i % 7 === 0
              ? decodeChunks(oneByteChunks(bytes), options)
              : decodeChunks(cut(bytes, [rnd.int(bytes.length + 1), rnd.int(bytes.length + 1)]), options);
        } catch (err) {
          throw new Error(`input #${i} (seed ${SEED}) ${bytesToHex(bytes)} threw ${String(err)}`);
        }
        const reference = referenceDecode(bytes, options);
        if (
          outcome.error !== reference.error ||
          JSON.stringify(outcome.frames) !== JSON.stringify(reference.frames)
        ) {
          throw new Error(
            `input #${i} (seed ${SEED}) ${bytesToHex(bytes)}: decoder ${outcome.error} ${JSON.stringify(outcome.frames)}, ` +
              `reference ${reference.error} ${JSON.stringify(reference.frames)}`,
          );
        }
        const bound = 21 + (options.maxPayload ?? 4 << 20) + (options.maxMetadata ?? 64 << 10);
        if (outcome.maxBuffered > bound)
          throw new Error(`input #${i} buffered ${outcome.maxBuffered} > ${bound}`);
        framesSeen += outcome.frames.length;
        const kind = outcome.error ?? 'ok';
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      }
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    const elapsed = performance.now() - started;
    if (process.env.FUZZ_STATS) console.log(Object.fromEntries(kinds), { framesSeen, elapsed });
    // The generator reaches every outcome, so the oracle comparison covers each kind.
    for (const kind of [
      'ok',
      'bad_magic',
      'bad_version',
      'bad_type',
      'bad_codec',
      'bad_request_id',
      'payload_too_large',
      'metadata_too_large',
      'metadata_overrun',
      'bad_utf8',
      'truncated',
    ]) {
      expect(kinds.get(kind) ?? 0, `outcome ${kind}`).toBeGreaterThan(50);
    }
    expect(framesSeen).toBeGreaterThan(INPUTS / 4);
    expect(elapsed).toBeLessThan(15_000);
  });
});
