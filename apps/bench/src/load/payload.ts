import { orderMessage } from '../micro/message.js';
import type { CodecName, PayloadKind } from './case-spec.js';

/** The token the middleware scenario's clients send and its auth middleware accepts. */
export const BENCH_TOKEN = 'bench-token';

/** `size` bytes with a fixed pattern (not zeros, which some paths special-case). */
export function payloadBytes(size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) bytes[i] = 0x41 + ((i * 7) % 26);
  return bytes;
}

/**
 * The arguments of one mini-rpc call. Bytes travel as `{ data }`: a Uint8Array for msgpack and protobuf
 * (`bin` / `bytes`), the same bytes as an ASCII string for JSON (JSON has no byte type). `order` is the
 * micro bench's ~1 KiB order message.
 */
export function rpcArgs(codec: CodecName, kind: PayloadKind, size: number): unknown {
  if (kind === 'order') return orderMessage();
  const bytes = payloadBytes(size);
  return codec === 'json' ? { data: bytes.toString('latin1') } : { data: new Uint8Array(bytes) };
}

/** A comparable form of a value: byte arrays (Buffer or not) as hex, objects with sorted keys. */
function normalise(v: unknown): unknown {
  if (v instanceof Uint8Array)
    return `bytes:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
  if (Array.isArray(v)) return v.map(normalise);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = normalise((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/** True when `back` is what an echo of `sent` must return (checked once per case before the load). */
export function sameEcho(sent: unknown, back: unknown): boolean {
  return JSON.stringify(normalise(sent)) === JSON.stringify(normalise(back));
}
