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

/** Reads `length` bytes at `offset` as strict UTF-8; throws ProtocolError('bad_utf8') on invalid bytes. */
export function readUtf8(source: Uint8Array, offset: number, length: number): string {
  if (length < 32) {
    let ascii = true;
    for (let i = 0; i < length; i++) {
      if ((source[offset + i] as number) >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii)
      return String.fromCharCode.apply(null, source.subarray(offset, offset + length) as unknown as number[]);
  }
  try {
    return decoder.decode(source.subarray(offset, offset + length));
  } catch {
    throw new ProtocolError('bad_utf8', 'metadata is not valid UTF-8');
  }
}
