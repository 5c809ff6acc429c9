/**
 * The common shapes of RPC messages read from MessagePack as msgpackr reads them with the standard codec's
 * options (`mapsAsObjects`, no records, no structured clone): maps with string keys as plain objects, arrays,
 * strings, nil, booleans, integers (64-bit ones as msgpackr's `int64AsType: 'auto'` gives them), float32 and
 * float64, `bin` (a Buffer view into the source, as msgpackr gives without `copyBuffers`) and timestamps
 * (`Date`). It reads in place, at any offset of a received chunk, with no per-call setup and no DataView,
 * and builds strings under 16 bytes in JavaScript: msgpackr reads a source that ends past byte 140 with its
 * native string extractor, and a small one needs a copy at offset 0 and a copy of every `bin` value
 * (issue #7).
 *
 * Anything else (other extensions such as records, non-string map keys, UTF-8 that is not well formed,
 * nesting deeper than {@link MAX_DEPTH}) and any malformed input (cut short, bytes left over, a length past
 * the end) makes it return {@link NOT_PLAIN}: the caller reads the payload with msgpackr, which decodes it
 * or reports the error in its own words. It never throws.
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

/**
 * Returned up through the decoder: the bytes leave its domain. Not thrown: a throw costs ~0.4–0.8 µs in V8
 * (it records where it was thrown), several times what msgpackr then takes to read a small message.
 */
const BAIL: unique symbol = Symbol('msgpack fast decode: bail');

/** A decode function: the value of `source[start, end)`, or {@link NOT_PLAIN}. */
export type FastMsgpackDecode = (source: Buffer, start: number, end: number) => unknown;

// The decoder's state lives in the module, as msgpackr's does: plain module variables and functions measured
// faster here than the same code closed over per decoder. One decode runs at a time ({@link busy}).
let src: Buffer = EMPTY;
let pos = 0;
let end = 0;
let depth = 0;
/** Whether int64/uint64 are read here (msgpackr's `int64AsType: 'auto'`) or left to msgpackr. */
let int64Auto = true;
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

/**
 * The fast decoder (it keeps no state between calls but the process's key cache). `int64` is the codec's
 * option: in msgpackr's `'auto'` mode (the default) it reads int64/uint64 itself, in the others it leaves
 * them to msgpackr.
 */
export function createFastMsgpackDecoder(int64: 'auto' | 'other' = 'auto'): FastMsgpackDecode {
  return int64 === 'auto' ? decodeInt64Auto : decodeInt64Other;
}

function decodeInt64Auto(source: Buffer, start: number, stop: number): unknown {
  return decode(source, start, stop, true);
}

function decodeInt64Other(source: Buffer, start: number, stop: number): unknown {
  return decode(source, start, stop, false);
}

function decode(source: Buffer, start: number, stop: number, int64: boolean): unknown {
  if (busy) return NOT_PLAIN;
  busy = true;
  int64Auto = int64;
  src = source;
  pos = start;
  end = stop;
  depth = 0;
  try {
    const value = read();
    return value !== BAIL && pos === end ? value : NOT_PLAIN;
  } catch {
    // What a setter someone put on Object.prototype threw, or a long string that is not UTF-8: msgpackr
    // reads it again and decides.
    return NOT_PLAIN;
  } finally {
    // Holds no chunk between calls.
    src = EMPTY;
    busy = false;
  }
}

/** The next value, or {@link BAIL}. */
function read(): unknown {
  if (pos >= end) return BAIL;
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
    case 0xc7:
      return timestamp(u8());
    case 0xca: {
      if (end - pos < 4) return BAIL;
      const v = src.readFloatBE(pos);
      pos += 4;
      return v;
    }
    case 0xcb: {
      if (end - pos < 8) return BAIL;
      const v = src.readDoubleBE(pos);
      pos += 8;
      return v;
    }
    case 0xcc:
      return orBail(u8());
    case 0xcd:
      return orBail(u16());
    case 0xce:
      return orBail(u32());
    case 0xcf:
      return int64Auto ? uint64() : BAIL;
    case 0xd0: {
      const v = u8();
      return v < 0 ? BAIL : (v << 24) >> 24;
    }
    case 0xd1: {
      const v = u16();
      return v < 0 ? BAIL : (v << 16) >> 16;
    }
    case 0xd2: {
      const v = u32();
      return v < 0 ? BAIL : v | 0;
    }
    case 0xd3:
      return int64Auto ? int64() : BAIL;
    case 0xd6:
      return timestamp(4);
    case 0xd7:
      return timestamp(8);
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
      // 0xc1 (never used) and extensions other than the timestamp: msgpackr's.
      return BAIL;
  }
}

function orBail(n: number): number | typeof BAIL {
  return n < 0 ? BAIL : n;
}

// The unsigned readers return -1 when the bytes end first; whoever takes the number checks it.

function u8(): number {
  if (pos >= end) return -1;
  return src[pos++] as number;
}

function u16(): number {
  if (end - pos < 2) return -1;
  const v = ((src[pos] as number) << 8) | (src[pos + 1] as number);
  pos += 2;
  return v;
}

function u32(): number {
  if (end - pos < 4) return -1;
  const v = src.readUInt32BE(pos);
  pos += 4;
  return v;
}

/** A uint64 as msgpackr's `'auto'` reads it: a number up to 2^53 (included), a bigint above. */
function uint64(): number | bigint | typeof BAIL {
  if (end - pos < 8) return BAIL;
  const high = src.readUInt32BE(pos);
  const low = src.readUInt32BE(pos + 4);
  const v =
    high < 0x20_0000 || (high === 0x20_0000 && low === 0)
      ? high * 0x1_0000_0000 + low
      : src.readBigUInt64BE(pos);
  pos += 8;
  return v;
}

/** An int64 as msgpackr's `'auto'` reads it: a number within ±2^53 (both included), a bigint beyond. */
function int64(): number | bigint | typeof BAIL {
  if (end - pos < 8) return BAIL;
  const high = src.readInt32BE(pos);
  const low = src.readUInt32BE(pos + 4);
  const exact = high >= -0x20_0000 && (high < 0x20_0000 || (high === 0x20_0000 && low === 0));
  const v = exact ? high * 0x1_0000_0000 + low : src.readBigInt64BE(pos);
  pos += 8;
  return v;
}

/**
 * The timestamp extension (type −1) with `n` bytes of data, the type byte next: 4 (seconds), 8 (30 bits of
 * nanoseconds, 34 of seconds) or 12 (nanoseconds, then 64-bit signed seconds). The milliseconds are computed
 * as msgpackr computes them (nanoseconds / 10^6 + seconds × 1000, which `Date` truncates), so the two give
 * the same `Date`. msgpackr reads 12-byte seconds from their low 48 bits and the sign bit only: seconds
 * that do not fit in 48 bits are left to it, as are an invalid date and every other extension.
 */
function timestamp(n: number): Date | typeof BAIL {
  if (n < 0 || end - pos <= n || src[pos] !== 0xff) return BAIL;
  const at = pos + 1;
  let nanos: number;
  let seconds: number;
  if (n === 4) {
    nanos = 0;
    seconds = src.readUInt32BE(at);
  } else if (n === 8) {
    const high = src.readUInt32BE(at);
    nanos = high >>> 2;
    seconds = (high & 3) * 0x1_0000_0000 + src.readUInt32BE(at + 4);
  } else if (n === 12) {
    nanos = src.readInt32BE(at);
    const sign = (src[at + 6] as number) & 0x80 ? 0xff : 0;
    if (src[at + 4] !== sign || src[at + 5] !== sign) return BAIL;
    seconds = src.readIntBE(at + 6, 6);
  } else return BAIL;
  const date = new Date(nanos / 1_000_000 + seconds * 1000);
  if (Number.isNaN(date.getTime())) return BAIL;
  pos = at + n;
  return date;
}

function map(n: number): Record<string, unknown> | typeof BAIL {
  // Every entry takes at least two bytes; a larger count is malformed (msgpackr says so).
  if (n < 0 || n > (end - pos) / 2 || ++depth > MAX_DEPTH) return BAIL;
  const o: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const k = key();
    if (k === BAIL) return BAIL;
    const v = read();
    if (v === BAIL) return BAIL;
    o[k] = v;
  }
  depth--;
  return o;
}

function array(n: number): unknown[] | typeof BAIL {
  if (n < 0 || n > end - pos || ++depth > MAX_DEPTH) return BAIL;
  const a = new Array<unknown>(n);
  for (let i = 0; i < n; i++) {
    const v = read();
    if (v === BAIL) return BAIL;
    a[i] = v;
  }
  depth--;
  return a;
}

function bin(n: number): Buffer | typeof BAIL {
  if (n < 0 || end - pos < n) return BAIL;
  const b = src.subarray(pos, pos + n);
  pos += n;
  return b;
}

function key(): string | typeof BAIL {
  const t = u8();
  let k: string | typeof BAIL;
  if (t >= 0xa0 && t < 0xc0) k = t - 0xa0 <= CACHED_KEY_BYTES ? cachedKey(t - 0xa0) : str(t - 0xa0);
  else if (t === 0xd9) k = str(u8());
  else if (t === 0xda) k = str(u16());
  else if (t === 0xdb) k = str(u32());
  else return BAIL;
  // msgpackr's own renaming: a key must not replace the object's prototype.
  return k === '__proto__' ? '__proto_' : k;
}

/** A short fixstr key, from the cache when these bytes were read before. */
function cachedKey(n: number): string | typeof BAIL {
  if (end - pos < n) return BAIL;
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
  if (k === BAIL) return BAIL;
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = src[from + i] as number;
  keyCache[slot] = { bytes, key: k };
  return k;
}

function str(n: number): string | typeof BAIL {
  if (n < 0 || end - pos < n) return BAIL;
  const from = pos;
  const to = pos + n;
  let s: string | undefined;
  if (n < SHORT_STRING) s = shortAscii(from, n);
  if (s === undefined) {
    const slicers = src as unknown as Slicers;
    if (n >= LONG_STRING) {
      // A native check and decode in one beats a loop here.
      // Throws on bytes that are not UTF-8, and decode() catches it: rare enough to leave to an exception.
      s = strictUtf8.decode(src.subarray(from, to));
    } else if (isAscii(from, to)) s = slicers.latin1Slice(from, to);
    else if (wellFormed(from, to)) s = slicers.utf8Slice(from, to);
    else return BAIL;
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
