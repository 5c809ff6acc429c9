/**
 * The common shapes of RPC messages read from MessagePack as msgpackr reads them with the standard codec's
 * options (`mapsAsObjects`, no records, no structured clone): maps with string keys as plain objects, arrays,
 * strings, nil, booleans, integers up to 32 bits, float64 and `bin` (a Buffer view into the source, as
 * msgpackr gives without `copyBuffers`). It reads in place, at any offset of a received chunk, with no
 * per-call setup and no DataView, and builds strings under 16 bytes in JavaScript: msgpackr reads a source
 * that ends past byte 140 with its native string extractor, and a small one needs a copy at offset 0 and a
 * copy of every `bin` value (issue #7).
 *
 * Anything else (extensions such as timestamps and records, float32, 64-bit integers, non-string map keys,
 * UTF-8 that is not well formed, nesting deeper than {@link MAX_DEPTH}) and any malformed input (cut short,
 * bytes left over, a length past the end) makes it return {@link NOT_PLAIN}: the caller reads the payload
 * with msgpackr, which decodes it or reports the error in its own words. It never throws.
 */

/** Deeper values go to msgpackr. */
const MAX_DEPTH = 64;
/** Keys up to this many bytes go through the key cache. */
const CACHED_KEY_BYTES = 16;
const KEY_CACHE_SLOTS = 4096;
/** ASCII strings shorter than this are built in JavaScript, longer ones by Buffer's latin1 slicer. */
const SHORT_STRING = 16;
const fromCharCode = String.fromCharCode;
/** Strings of this many bytes or more are checked and decoded by {@link strictUtf8} rather than in JavaScript. */
const LONG_STRING = 64;
/**
 * Throws on bytes that are not well-formed UTF-8 (as strict as {@link wellFormed}); keeps a leading BOM as
 * the character it is, as msgpackr does (TextDecoder would drop it by default).
 */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const EMPTY = Buffer.alloc(0);

/** What a fast decode returns for bytes only msgpackr reads (or reports as malformed). */
export const NOT_PLAIN: unique symbol = Symbol('msgpack fast decode: not plain');

/** Thrown inside the decoder, caught at its top: the bytes leave its domain. */
const BAIL: unique symbol = Symbol('msgpack fast decode: bail');

/** A decode function: the value of `source[start, end)`, or {@link NOT_PLAIN}. */
export type FastMsgpackDecode = (source: Buffer, start: number, end: number) => unknown;

// The decoder's state lives in the module, as msgpackr's does: plain module variables and functions measured
// faster here than the same code closed over per decoder. One decode runs at a time ({@link busy}).
let src: Buffer = EMPTY;
let pos = 0;
let end = 0;
let depth = 0;
/** Set while a decode runs: one started meanwhile (from a setter on Object.prototype) gets NOT_PLAIN. */
let busy = false;
/** Keys read before, by a hash of their length and first bytes; shared by every codec of the process. */
const keyCache: (CachedKey | undefined)[] = new Array(KEY_CACHE_SLOTS).fill(undefined);

interface CachedKey {
  readonly bytes: Uint8Array;
  readonly key: string;
}

/** Buffer's own slicers (Node's, not in its typings): no argument checks, no encoding lookup. */
interface Slicers {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

/** The fast decoder (one for the process; it keeps no state between calls but its key cache). */
export function createFastMsgpackDecoder(): FastMsgpackDecode {
  return decode;
}

function decode(source: Buffer, start: number, stop: number): unknown {
  if (busy) return NOT_PLAIN;
  busy = true;
  src = source;
  pos = start;
  end = stop;
  depth = 0;
  try {
    const value = read();
    return pos === end ? value : NOT_PLAIN;
  } catch {
    // BAIL, or what a setter someone put on Object.prototype threw: msgpackr reads it again and decides.
    return NOT_PLAIN;
  } finally {
    // Holds no chunk between calls.
    src = EMPTY;
    busy = false;
  }
}

function read(): unknown {
  if (pos >= end) throw BAIL;
  const t = src[pos++] as number;
  // Positive fixints 0x40–0x7f are record references only after a record definition (an extension).
  if (t < 0x80) return t;
  if (t < 0x90) return map(t - 0x80);
  if (t < 0xa0) return array(t - 0x90);
  if (t < 0xc0) return str(t - 0xa0);
  if (t >= 0xe0) return t - 0x100;
  switch (t) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xc4:
      return bin(u8());
    case 0xc5:
      return bin(u16());
    case 0xc6:
      return bin(u32());
    case 0xcb: {
      if (end - pos < 8) throw BAIL;
      const v = src.readDoubleBE(pos);
      pos += 8;
      return v;
    }
    case 0xcc:
      return u8();
    case 0xcd:
      return u16();
    case 0xce:
      return u32();
    case 0xd0:
      return (u8() << 24) >> 24;
    case 0xd1:
      return (u16() << 16) >> 16;
    case 0xd2:
      return u32() | 0;
    case 0xd9:
      return str(u8());
    case 0xda:
      return str(u16());
    case 0xdb:
      return str(u32());
    case 0xdc:
      return array(u16());
    case 0xdd:
      return array(u32());
    case 0xde:
      return map(u16());
    case 0xdf:
      return map(u32());
    default:
      // 0xc1 (never used), extensions, float32, 64-bit integers: msgpackr's.
      throw BAIL;
  }
}

function u8(): number {
  if (pos >= end) throw BAIL;
  return src[pos++] as number;
}

function u16(): number {
  if (end - pos < 2) throw BAIL;
  const v = ((src[pos] as number) << 8) | (src[pos + 1] as number);
  pos += 2;
  return v;
}

function u32(): number {
  if (end - pos < 4) throw BAIL;
  const v = src.readUInt32BE(pos);
  pos += 4;
  return v;
}

function map(n: number): Record<string, unknown> {
  // Every entry takes at least two bytes; a larger count is malformed (msgpackr says so).
  if (n > (end - pos) / 2 || ++depth > MAX_DEPTH) throw BAIL;
  const o: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const k = key();
    o[k] = read();
  }
  depth--;
  return o;
}

function array(n: number): unknown[] {
  if (n > end - pos || ++depth > MAX_DEPTH) throw BAIL;
  const a = new Array<unknown>(n);
  for (let i = 0; i < n; i++) a[i] = read();
  depth--;
  return a;
}

function bin(n: number): Buffer {
  if (end - pos < n) throw BAIL;
  const b = src.subarray(pos, pos + n);
  pos += n;
  return b;
}

function key(): string {
  const t = u8();
  let k: string;
  if (t >= 0xa0 && t < 0xc0) k = t - 0xa0 <= CACHED_KEY_BYTES ? cachedKey(t - 0xa0) : str(t - 0xa0);
  else if (t === 0xd9) k = str(u8());
  else if (t === 0xda) k = str(u16());
  else if (t === 0xdb) k = str(u32());
  else throw BAIL;
  // msgpackr's own renaming: a key must not replace the object's prototype.
  return k === '__proto__' ? '__proto_' : k;
}

/** A short fixstr key, from the cache when these bytes were read before. */
function cachedKey(n: number): string {
  if (end - pos < n) throw BAIL;
  const from = pos;
  const first =
    n > 1 ? ((src[from] as number) << 8) | (src[from + 1] as number) : n > 0 ? (src[from] as number) : 0;
  const slot = ((n << 5) ^ first) & (KEY_CACHE_SLOTS - 1);
  const entry = keyCache[slot];
  if (entry !== undefined && entry.bytes.length === n) {
    const bytes = entry.bytes;
    let i = 0;
    while (i < n && bytes[i] === src[from + i]) i++;
    if (i === n) {
      pos = from + n;
      return entry.key;
    }
  }
  const k = str(n);
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = src[from + i] as number;
  keyCache[slot] = { bytes, key: k };
  return k;
}

function str(n: number): string {
  if (end - pos < n) throw BAIL;
  const from = pos;
  const to = pos + n;
  let s: string | undefined;
  if (n < SHORT_STRING) s = shortAscii(from, n);
  if (s === undefined) {
    const slicers = src as unknown as Slicers;
    if (n >= LONG_STRING) {
      // A native check and decode in one beats a loop here.
      s = strictUtf8.decode(src.subarray(from, to)); // throws (so bails) on bytes that are not UTF-8
    } else if (isAscii(from, to)) s = slicers.latin1Slice(from, to);
    else if (wellFormed(from, to)) s = slicers.utf8Slice(from, to);
    else throw BAIL;
  }
  pos = to;
  return s;
}

function isAscii(from: number, to: number): boolean {
  for (let i = from; i < to; i++) if ((src[i] as number) >= 0x80) return false;
  return true;
}

/**
 * The ASCII bytes `src[from, from + n)`, n < 16, as a string built in JavaScript (no native call);
 * undefined when one of them is not ASCII.
 */
function shortAscii(from: number, n: number): string | undefined {
  const b = src;
  if (n < 8) {
    if (n === 0) return '';
    const a0 = b[from] as number;
    if (n === 1) return a0 < 0x80 ? fromCharCode(a0) : undefined;
    const a1 = b[from + 1] as number;
    const a2 = n > 2 ? (b[from + 2] as number) : 0;
    const a3 = n > 3 ? (b[from + 3] as number) : 0;
    if ((a0 | a1 | a2 | a3) >= 0x80) return undefined;
    if (n === 2) return fromCharCode(a0, a1);
    if (n === 3) return fromCharCode(a0, a1, a2);
    if (n === 4) return fromCharCode(a0, a1, a2, a3);
    const a4 = b[from + 4] as number;
    const a5 = n > 5 ? (b[from + 5] as number) : 0;
    const a6 = n > 6 ? (b[from + 6] as number) : 0;
    if ((a4 | a5 | a6) >= 0x80) return undefined;
    if (n === 5) return fromCharCode(a0, a1, a2, a3, a4);
    if (n === 6) return fromCharCode(a0, a1, a2, a3, a4, a5);
    return fromCharCode(a0, a1, a2, a3, a4, a5, a6);
  }
  const a0 = b[from] as number;
  const a1 = b[from + 1] as number;
  const a2 = b[from + 2] as number;
  const a3 = b[from + 3] as number;
  const a4 = b[from + 4] as number;
  const a5 = b[from + 5] as number;
  const a6 = b[from + 6] as number;
  const a7 = b[from + 7] as number;
  if ((a0 | a1 | a2 | a3 | a4 | a5 | a6 | a7) >= 0x80) return undefined;
  const head = fromCharCode(a0, a1, a2, a3, a4, a5, a6, a7);
  if (n === 8) return head;
  const tail = shortAscii(from + 8, n - 8);
  return tail === undefined ? undefined : head + tail;
}

/** True when `src[from, to)` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF). */
function wellFormed(from: number, to: number): boolean {
  let i = from;
  while (i < to) {
    const b = src[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) n = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      n = 2;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 3;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f;
    } else return false;
    if (i + n >= to) return false;
    const second = src[i + 1] as number;
    if (second < lo || second > hi) return false;
    for (let k = 2; k <= n; k++) {
      const c = src[i + k] as number;
      if (c < 0x80 || c > 0xbf) return false;
    }
    i += n + 1;
  }
  return true;
}
