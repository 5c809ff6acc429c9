import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bytesToHex, decodeChunks, hexToBytes, oneByteChunks, referenceDecode } from '../test/support.js';
import type { FrameDecoderOptions, FrameType, OutgoingFrame, ProtocolErrorKind } from './index.js';
import { CodecId, createMetadata, encodeFrame, FrameType as FrameTypes } from './index.js';

// The vectors live in the spec so that other implementations can use them; this test reads them from there.
const SPEC = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');

interface VectorSpec {
  type?: keyof typeof FrameTypes;
  codec?: keyof typeof CodecId;
  id?: number;
  metadata?: [string, string][];
  payload?: string;
  limits?: { maxPayload?: number; maxMetadata?: number };
  error?: ProtocolErrorKind;
  errorAt?: number | 'end';
}

interface Vector {
  name: string;
  spec: VectorSpec;
  bytes: Uint8Array;
}

function parseVectors(markdown: string): Vector[] {
  const json = new Map<string, VectorSpec>();
  const hex = new Map<string, Uint8Array>();
  for (const m of markdown.matchAll(/^```(json|hex) vector=([\w-]+)\n([\s\S]*?)^```$/gm)) {
    const [, lang, name, body] = m as unknown as [string, string, string, string];
    const target: Map<string, unknown> = lang === 'json' ? json : hex;
    if (target.has(name)) throw new Error(`two ${lang} blocks for vector ${name}`);
    if (lang === 'json') json.set(name, JSON.parse(body) as VectorSpec);
    else hex.set(name, hexToBytes(body.replace(/#.*$/gm, '')));
  }
  expect([...json.keys()].sort()).toEqual([...hex.keys()].sort());
  return [...json].map(([name, spec]) => ({ name, spec, bytes: hex.get(name) as Uint8Array }));
}

const vectors = parseVectors(SPEC);
const framed = vectors.filter((v) => v.spec.type !== undefined);
const accepted = vectors.filter((v) => v.spec.error === undefined);
const rejected = vectors.filter((v) => v.spec.error !== undefined);

function outgoing(spec: VectorSpec): OutgoingFrame {
  const metadata = createMetadata();
  for (const [k, v] of spec.metadata ?? []) metadata[k] = v;
  return {
    type: FrameTypes[spec.type as keyof typeof FrameTypes] as FrameType,
    codec: CodecId[spec.codec as keyof typeof CodecId],
    id: spec.id as number,
    metadata,
    payload: hexToBytes(spec.payload ?? ''),
  };
}

function expected(spec: VectorSpec) {
  const frame = outgoing(spec);
  return {
    type: frame.type,
    codec: frame.codec,
    id: frame.id,
    metadata: Object.fromEntries(spec.metadata ?? []),
    payload: spec.payload ?? '',
  };
}

function options(spec: VectorSpec): FrameDecoderOptions {
  return { ...spec.limits };
}

describe('docs/protocol.md test vectors', () => {
  it('has the vectors the spec promises', () => {
    const names = vectors.map((v) => v.name);
    for (const required of [
      'request',
      'response-error',
      'heartbeat',
      'non-ascii-metadata',
      'empty-payload',
      'payload-limit-accept',
      'payload-limit-reject',
    ]) {
      expect(names).toContain(required);
    }
    expect(vectors.length).toBeGreaterThanOrEqual(6);
  });

  it.each(framed.map((v) => [v.name, v] as const))('encodeFrame writes %s byte for byte', (_, v) => {
    expect(bytesToHex(encodeFrame(outgoing(v.spec)))).toBe(bytesToHex(v.bytes));
  });

  it.each(accepted.map((v) => [v.name, v] as const))(
    '%s decodes back, in one chunk and byte by byte',
    (_, v) => {
      const whole = decodeChunks([v.bytes], options(v.spec));
      expect(whole.error).toBeUndefined();
      expect(whole.frames).toEqual([expected(v.spec)]);
      expect(decodeChunks(oneByteChunks(v.bytes), options(v.spec))).toMatchObject({ frames: whole.frames });
      expect(referenceDecode(v.bytes, v.spec.limits).frames).toEqual(whole.frames);
    },
  );

  it.each(rejected.map((v) => [v.name, v] as const))('%s is rejected at the byte the spec names', (_, v) => {
    const { error, errorAt } = v.spec;
    expect(decodeChunks([v.bytes], options(v.spec))).toMatchObject({ frames: [], error });
    const byByte = decodeChunks(oneByteChunks(v.bytes), options(v.spec));
    expect(byByte).toMatchObject({ frames: [], error, at: errorAt });
    expect(referenceDecode(v.bytes, v.spec.limits)).toMatchObject({ error, at: errorAt });
    // Nothing past the failing byte was taken in.
    expect(byByte.maxBuffered).toBeLessThanOrEqual(errorAt === 'end' ? v.bytes.length : (errorAt as number));
  });

  it('limit vectors that are rejected decode fine under the default limits', () => {
    for (const v of rejected.filter((r) => r.spec.limits !== undefined && r.spec.type !== undefined)) {
      expect(decodeChunks([v.bytes])).toEqual({ frames: [expected(v.spec)], maxBuffered: 0 });
    }
  });
});
