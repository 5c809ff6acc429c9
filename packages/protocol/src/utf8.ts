import { ProtocolError } from './protocol-error.js';

const encoder = new TextEncoder();
// fatal: invalid UTF-8 must be an error, not U+FFFD (docs/protocol.md §6); ignoreBOM keeps a leading BOM as data.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Exact UTF-8 byte length of `s`, as TextEncoder would write it (lone surrogates become U+FFFD, 3 bytes). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Writes `s` as UTF-8 at `offset`; returns the number of bytes written. `target` must have room. */
export function writeUtf8(s: string, target: Uint8Array, offset: number): number {
  const len = s.length;
  // Short ASCII strings (method names, ids) are the common case; a byte loop beats encodeInto for them.
  if (len < 64) {
    let i = 0;
    for (; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      target[offset + i] = c;
    }
    if (i === len) return len;
  }
  return encoder.encodeInto(s, target.subarray(offset)).written;
}

// A small direct-mapped cache of short ASCII strings: service and method names, reserved keys and other
// metadata repeat on every call, so most reads return an existing string instead of building one
// (fewer allocations per frame; docs/lifecycle.md §4). Keys are copied into one preallocated buffer.
const CACHE_SLOTS = 512;
const CACHE_MAX = 32;
const cacheBytes = new Uint8Array(CACHE_SLOTS * CACHE_MAX);
const cacheLength = new Uint8Array(CACHE_SLOTS);
const cacheString: (string | undefined)[] = new Array<string | undefined>(CACHE_SLOTS).fill(undefined);

/** A short ASCII string from bytes, without the subarray that `String.fromCharCode.apply` would need. */
function asciiString(source: Uint8Array, offset: number, length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) text += String.fromCharCode(source[offset + i] as number);
  return text;
}

/** Reads `length` bytes at `offset` as strict UTF-8; throws ProtocolError('bad_utf8') on invalid bytes. */
export function readUtf8(source: Uint8Array, offset: number, length: number): string {
  if (length <= CACHE_MAX) {
    let h = length;
    let ascii = true;
    let digits = true;
    for (let i = 0; i < length; i++) {
      const b = source[offset + i] as number;
      if (b >= 0x80) {
        ascii = false;
        break;
      }
      if (b < 0x30 || b > 0x39) digits = false;
      h = (Math.imul(h, 31) + b) | 0;
    }
    if (ascii) {
      // Numbers (timeouts, retry hints) differ on every frame: build them, never evict names for them.
      if (digits) return asciiString(source, offset, length);
      const slot = (h ^ (h >>> 9)) & (CACHE_SLOTS - 1);
      const base = slot * CACHE_MAX;
      const cached = cacheString[slot];
      if (cached !== undefined && cacheLength[slot] === length) {
        let same = true;
        for (let i = 0; i < length; i++) {
          if (cacheBytes[base + i] !== source[offset + i]) {
            same = false;
            break;
          }
        }
        if (same) return cached;
      }
      const text = asciiString(source, offset, length);
      for (let i = 0; i < length; i++) cacheBytes[base + i] = source[offset + i] as number;
      cacheLength[slot] = length;
      cacheString[slot] = text;
      return text;
    }
  }
  try {
    return decoder.decode(source.subarray(offset, offset + length));
  } catch {
    throw new ProtocolError('bad_utf8', 'metadata is not valid UTF-8');
  }
}
