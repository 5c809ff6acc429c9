import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concat, cut, decodeChunks, oneByteChunks, referenceDecode } from '../test/support.js';
import type { FrameType, Metadata, OutgoingFrame } from './index.js';
import {
  CodecId,
  createMetadata,
  encodeFrame,
  encodeMetadata,
  FrameType as FrameTypes,
  MAX_REQUEST_ID,
  maxFrameSize,
  writeFrame,
} from './index.js';

// Full Unicode, and strings with lone surrogates: UTF-8 cannot carry those, so the encoder writes U+FFFD
// in their place (as TextEncoder does) and the frame decodes to the well-formed form of what went in.
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.string({
    unit: fc.constantFrom('', 'a', 'é', '日', '\ufffd', '🚀', '\ud800', '\udbff', '\udc00', '\udfff'),
    maxLength: 6,
  }),
);

const utf8 = { encoder: new TextEncoder(), decoder: new TextDecoder() };
/** `s` with each lone surrogate replaced by U+FFFD (String#toWellFormed, ES2024). */
const wellFormed = (s: string): string => utf8.decoder.decode(utf8.encoder.encode(s));

const metadataEntries = fc.uniqueArray(fc.tuple(text, text), { maxLength: 6, selector: ([k]) => k });

const frameArb = fc.record({
  type: fc.constantFrom(...(Object.values(FrameTypes) as FrameType[])),
  codec: fc.constantFrom(...Object.values(CodecId)),
  id: fc.oneof(fc.nat(), fc.constantFrom(0, 2 ** 32 - 1, 2 ** 32, MAX_REQUEST_ID), fc.maxSafeNat()),
  entries: metadataEntries,
  /** How many of the entries go pre-encoded as rawMetadata. */
  rawCount: fc.nat({ max: 6 }),
  payload: fc.uint8Array({ maxLength: 300 }),
});

type FrameInput = typeof frameArb extends fc.Arbitrary<infer T> ? T : never;

function toMetadata(entries: readonly (readonly [string, string])[]): Metadata {
  const md = createMetadata();
  for (const [k, v] of entries) md[k] = v;
  return md;
}

function toOutgoing(f: FrameInput): OutgoingFrame {
  const raw = f.entries.slice(0, f.rawCount);
  const rest = f.entries.slice(f.rawCount);
  // Two blocks of rawMetadata, concatenated, exercise "encoded blocks may be concatenated".
  const half = raw.length >> 1;
  return {
    type: f.type,
    codec: f.codec,
    id: f.id,
    rawMetadata: concat([
      encodeMetadata(toMetadata(raw.slice(0, half))),
      encodeMetadata(toMetadata(raw.slice(half))),
    ]),
    metadata: toMetadata(rest),
    payload: f.payload,
  };
}

/** Encodes the frames back to back into one shared buffer with writeFrame, as a transport batches them. */
function writeAll(frames: readonly OutgoingFrame[]): Uint8Array {
  let bound = 0;
  for (const f of frames) bound += maxFrameSize(f);
  const buffer = new Uint8Array(bound + 7);
  let offset = 7; // not at 0, to catch offset mistakes
  for (const f of frames) offset += writeFrame(f, buffer, offset);
  return buffer.subarray(7, offset);
}

const expected = (f: FrameInput) => ({
  type: f.type,
  codec: f.codec,
  id: f.id,
  metadata: { ...toMetadata(f.entries.map(([k, v]) => [wellFormed(k), wellFormed(v)] as const)) },
  payload: Buffer.from(f.payload).toString('hex'),
});

describe('decoder properties', () => {
  it('random frames, concatenated and cut into random chunks, decode to exactly the frames that went in', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.boolean(),
        (inputs, cuts, shared) => {
          const outgoing = inputs.map(toOutgoing);
          const stream = shared ? writeAll(outgoing) : concat(outgoing.map(encodeFrame));
          const chunks = cut(
            stream,
            cuts.map((c) => c % (stream.length + 1)),
          );
          const outcome = decodeChunks(chunks);
          expect(outcome.error).toBeUndefined();
          expect(outcome.frames).toEqual(inputs.map(expected));
          expect(outcome.maxBuffered).toBeLessThanOrEqual(Math.max(0, ...outgoing.map(maxFrameSize)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('writeFrame and encodeFrame write the same bytes', () => {
    fc.assert(
      fc.property(frameArb, (input) => {
        const f = toOutgoing(input);
        expect(writeAll([f])).toEqual(encodeFrame(f));
      }),
      { numRuns: 200 },
    );
  });

  it('a damaged stream gives the same frames and the same error for every chunking, as the reference says', () => {
    const damaged = fc
      .tuple(fc.array(frameArb, { minLength: 1, maxLength: 4 }), fc.nat(), fc.nat({ max: 255 }), fc.nat())
      .map(([inputs, at, value, cutLen]) => {
        const stream = concat(inputs.map((f) => encodeFrame(toOutgoing(f))));
        const copy = stream.slice(0, stream.length - (cutLen % 3 === 0 ? cutLen % 17 : 0));
        if (copy.length > 0) copy[at % copy.length] = value;
        return copy;
      });
    fc.assert(
      fc.property(damaged, fc.array(fc.nat(), { maxLength: 10 }), (bytes, cuts) => {
        const limits = { maxPayload: 200, maxMetadata: 150 };
        const reference = referenceDecode(bytes, limits);
        const whole = decodeChunks([bytes], limits);
        const byByte = decodeChunks(oneByteChunks(bytes), limits);
        const random = decodeChunks(
          cut(
            bytes,
            cuts.map((c) => c % (bytes.length + 1)),
          ),
          limits,
        );
        expect(whole.frames).toEqual(reference.frames);
        expect(whole.error).toBe(reference.error);
        expect(random.frames).toEqual(reference.frames);
        expect(random.error).toBe(reference.error);
        expect(byByte.frames).toEqual(reference.frames);
        expect(byByte.error).toBe(reference.error);
        expect(byByte.at).toBe(reference.at);
      }),
      { numRuns: 400 },
    );
  });
});
