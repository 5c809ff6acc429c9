// Helpers shared by the protocol tests. Not part of the package (tsup builds src/index.ts only).
import type { Frame, FrameDecoderOptions, Metadata, ProtocolErrorKind } from '../src/index.js';
import {
  CodecId,
  createFrameDecoder,
  createMetadata,
  DEFAULT_MAX_METADATA,
  DEFAULT_MAX_PAYLOAD,
  FrameType,
  isProtocolError,
} from '../src/index.js';

export function hexToBytes(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) throw new Error(`bad hex: ${clean}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Cuts `bytes` at the given offsets (any order, duplicates and out-of-range values ignored). */
export function cut(bytes: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const points = [...new Set(offsets.filter((o) => o > 0 && o < bytes.length))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  return out;
}

/** A decoded frame as plain data: payload copied, metadata as a plain object. */
export interface PlainFrame {
  type: number;
  codec: number;
  id: number;
  metadata: Record<string, string>;
  payload: string;
}

export function plain(f: Frame): PlainFrame {
  return {
    type: f.type,
    codec: f.codec,
    id: f.id,
    metadata: { ...f.metadata },
    payload: bytesToHex(f.payload),
  };
}

export interface DecodeOutcome {
  frames: PlainFrame[];
  /** The ProtocolError kind, if decoding failed. */
  error?: ProtocolErrorKind;
  /** Offset of the byte whose push failed (only when fed one byte at a time), or 'end'. */
  at?: number | 'end';
  /** Largest `decoder.buffered` seen after a push. */
  maxBuffered: number;
}

/**
 * Feeds `chunks` to a fresh decoder, then calls end(). Anything thrown that is not a ProtocolError is
 * rethrown, so a test sees it.
 */
export function decodeChunks(
  chunks: readonly Uint8Array[],
  options: FrameDecoderOptions = {},
): DecodeOutcome {
  const frames: PlainFrame[] = [];
  const decoder = createFrameDecoder((f) => frames.push(plain(f)), options);
  const outcome: DecodeOutcome = { frames, maxBuffered: 0 };
  let offset = 0;
  try {
    for (const chunk of chunks) {
      outcome.at = offset;
      decoder.push(chunk);
      offset += chunk.length;
      if (decoder.buffered > outcome.maxBuffered) outcome.maxBuffered = decoder.buffered;
    }
    outcome.at = 'end';
    decoder.end();
    delete outcome.at;
  } catch (err) {
    if (!isProtocolError(err)) throw err;
    outcome.error = err.kind;
  }
  return outcome;
}

export function oneByteChunks(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i++) out.push(bytes.subarray(i, i + 1));
  return out;
}

/**
 * Runs `fn` while counting every `new Uint8Array(n)` made anywhere (the decoder looks the global up at call
 * time), and returns the sizes asked for. Views made by subarray() do not count: they allocate no bytes.
 */
export function trackAllocations(fn: () => void): number[] {
  const sizes: number[] = [];
  const Real = globalThis.Uint8Array;
  const Tracked: Uint8ArrayConstructor = new Proxy(Real, {
    construct(target, args: unknown[], newTarget): object {
      const first = args[0];
      sizes.push(typeof first === 'number' ? first : ((first as ArrayLike<number>)?.length ?? 0));
      return Reflect.construct(target, args, newTarget) as object;
    },
  });
  globalThis.Uint8Array = Tracked;
  try {
    fn();
  } finally {
    globalThis.Uint8Array = Real;
  }
  return sizes;
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const strict = (bytes: Uint8Array): string | undefined => {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    return undefined;
  }
};

export interface ReferenceLimits {
  maxPayload?: number;
  maxMetadata?: number;
}

/**
 * A deliberately plain, whole-buffer decoder written from docs/protocol.md §2, §4 and §6, used as an oracle:
 * it checks each header byte in order and reports the offset of the byte at which a byte-at-a-time receiver
 * must fail.
 */
export function referenceDecode(bytes: Uint8Array, limits: ReferenceLimits = {}): DecodeOutcome {
  const maxPayload = limits.maxPayload ?? DEFAULT_MAX_PAYLOAD;
  const maxMetadata = limits.maxMetadata ?? DEFAULT_MAX_METADATA;
  const frames: PlainFrame[] = [];
  const fail = (error: ProtocolErrorKind, at: number | 'end'): DecodeOutcome => ({
    frames,
    error,
    at,
    maxBuffered: 0,
  });
  const codecs: number[] = Object.values(CodecId);
  const types: number[] = Object.values(FrameType);
  const u32 = (o: number) =>
    (bytes[o] ?? 0) * 2 ** 24 +
    (bytes[o + 1] ?? 0) * 2 ** 16 +
    (bytes[o + 2] ?? 0) * 2 ** 8 +
    (bytes[o + 3] ?? 0);
  let p = 0;
  while (p < bytes.length) {
    const have = bytes.length - p;
    const b = (i: number) => bytes[p + i] as number;
    const checks: [number, () => boolean, ProtocolErrorKind][] = [
      [0, () => b(0) === 0x4d, 'bad_magic'],
      [1, () => b(1) === 0x52, 'bad_magic'],
      [2, () => b(2) === 1, 'bad_version'],
      [3, () => types.includes(b(3)), 'bad_type'],
      [4, () => codecs.includes(b(4)), 'bad_codec'],
      [5, () => b(5) === 0, 'bad_request_id'],
      [6, () => b(6) <= 0x1f, 'bad_request_id'],
      [16, () => u32(p + 13) <= maxPayload, 'payload_too_large'],
      [20, () => u32(p + 17) <= maxMetadata, 'metadata_too_large'],
    ];
    for (const [at, ok, kind] of checks) {
      if (at >= have) return fail('truncated', 'end');
      if (!ok()) return fail(kind, p + at);
    }
    const payloadLen = u32(p + 13);
    const mdLen = u32(p + 17);
    const total = 21 + mdLen + payloadLen;
    if (total > have) return fail('truncated', 'end');
    const last = p + total - 1;
    const metadata: Metadata = createMetadata();
    const mdEnd = p + 21 + mdLen;
    let q = p + 21;
    while (q < mdEnd) {
      if (mdEnd - q < 2) return fail('metadata_overrun', last);
      const kl = ((bytes[q] as number) << 8) | (bytes[q + 1] as number);
      q += 2;
      if (mdEnd - q < kl) return fail('metadata_overrun', last);
      const key = strict(bytes.subarray(q, q + kl));
      if (key === undefined) return fail('bad_utf8', last);
      q += kl;
      if (mdEnd - q < 4) return fail('metadata_overrun', last);
      const vl = u32(q);
      q += 4;
      if (mdEnd - q < vl) return fail('metadata_overrun', last);
      const value = strict(bytes.subarray(q, q + vl));
      if (value === undefined) return fail('bad_utf8', last);
      q += vl;
      metadata[key] = value;
    }
    frames.push({
      type: b(3),
      codec: b(4),
      id: u32(p + 5) * 2 ** 32 + u32(p + 9),
      metadata: { ...metadata },
      payload: bytesToHex(bytes.subarray(mdEnd, mdEnd + payloadLen)),
    });
    p += total;
  }
  return { frames, maxBuffered: 0 };
}

/** A small deterministic PRNG (mulberry32), so a fuzz failure can be replayed from its seed. */
export function createRandom(seed: number): { next(): number; int(max: number): number } {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (max) => Math.floor(next() * max) };
}
