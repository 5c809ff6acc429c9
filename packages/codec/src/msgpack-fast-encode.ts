/**
 * The common shapes of RPC messages — plain objects and arrays of strings, numbers, booleans, `null`,
 * `undefined`, bigints within 64 bits, byte arrays (`Uint8Array`, `Buffer`) and `Date`s — encoded byte for
 * byte as msgpackr encodes them with the standard codec's options (`useRecords: false`, `variableMapSize`,
 * `encodeUndefinedAsNil`), without msgpackr's per-call setup and its extension lookup for byte arrays: a
 * 64-byte `{ data: <bytes> }` cost ~260–300 ns through msgpackr and ~90 ns here (issue #7). Anything else
 * (`Map`, `Set`, larger bigints, class instances, functions, other typed arrays, nesting deeper than
 * {@link MAX_DEPTH}) is left to msgpackr: the encoder returns `undefined` and the caller packs the whole
 * value with msgpackr.
 *
 * Results are views into a 64 KiB slab shared by the encodes that fit in it (msgpackr shares an 8 KiB one
 * the same way): a result kept alive keeps its slab alive. A slab is never written twice. A value found
 * not to be plain part-way is written by msgpackr from the start, so getters before that point run twice.
 */

const SLAB_BYTES = 64 * 1024;
/** Deeper values go to msgpackr (which then reports a cycle as the error it is). */
const MAX_DEPTH = 64;

/**
 * Thrown inside the encoder: the value does not fit in what is left of the slab (once a slab). A value that
 * is not plain is reported by a return value instead: a throw costs ~0.4–0.8 µs in V8 (it records where it
 * was thrown), more than encoding the whole value with msgpackr.
 */
const NO_ROOM: unique symbol = Symbol('msgpack fast encode: no room');

/** An encode function: the MessagePack bytes of `value`, or `undefined` when msgpackr must encode it. */
export type FastMsgpackEncode = (value: unknown) => Uint8Array | undefined;

/** Creates a fast encoder with its own slab (one per codec). */
export function createFastMsgpackEncoder(): FastMsgpackEncode {
  let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  let view = new DataView(slab.buffer, slab.byteOffset, slab.byteLength);
  let end = slab.length;
  let pos = 0;

  const newSlab = (size: number): void => {
    slab = Buffer.allocUnsafeSlow(size);
    view = new DataView(slab.buffer, slab.byteOffset, slab.byteLength);
    end = size;
    pos = 0;
  };

  const room = (n: number): void => {
    if (pos + n > end) throw NO_ROOM;
  };

  // msgpackr: strings under 0x40 UTF-16 units in JavaScript (a lone surrogate as U+FFFD), longer ones with
  // Buffer#utf8Write (which does the same); the header is the smallest for the byte length, the bytes moved
  // when the header reserved from the unit count is too short.
  const writeString = (s: string): void => {
    const units = s.length;
    const reserved = units < 0x20 ? 1 : units < 0x100 ? 2 : units < 0x10000 ? 3 : 5;
    room(5 + units * 3);
    const start = pos;
    let length: number;
    if (units < 0x40) {
      let p = start + reserved;
      for (let i = 0; i < units; i++) {
        let c1 = s.charCodeAt(i);
        if (c1 < 0x80) {
          slab[p++] = c1;
        } else if (c1 < 0x800) {
          slab[p++] = (c1 >> 6) | 0xc0;
          slab[p++] = (c1 & 0x3f) | 0x80;
        } else if ((c1 & 0xfc00) === 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
          c1 = 0x10000 + ((c1 & 0x03ff) << 10) + (s.charCodeAt(i + 1) & 0x03ff);
          i++;
          slab[p++] = (c1 >> 18) | 0xf0;
          slab[p++] = ((c1 >> 12) & 0x3f) | 0x80;
          slab[p++] = ((c1 >> 6) & 0x3f) | 0x80;
          slab[p++] = (c1 & 0x3f) | 0x80;
        } else if ((c1 & 0xf800) === 0xd800) {
          slab[p++] = 0xef;
          slab[p++] = 0xbf;
          slab[p++] = 0xbd;
        } else {
          slab[p++] = (c1 >> 12) | 0xe0;
          slab[p++] = ((c1 >> 6) & 0x3f) | 0x80;
          slab[p++] = (c1 & 0x3f) | 0x80;
        }
      }
      length = p - start - reserved;
    } else {
      length = slab.write(s, start + reserved, end - start - reserved, 'utf8');
    }
    if (length < 0x20) {
      slab[start] = 0xa0 | length; // reserved is 1: a string of fewer than 32 bytes has fewer than 32 units
      pos = start + 1 + length;
    } else if (length < 0x100) {
      if (reserved < 2) slab.copyWithin(start + 2, start + reserved, start + reserved + length);
      slab[start] = 0xd9;
      slab[start + 1] = length;
      pos = start + 2 + length;
    } else if (length < 0x10000) {
      if (reserved < 3) slab.copyWithin(start + 3, start + reserved, start + reserved + length);
      slab[start] = 0xda;
      slab[start + 1] = length >> 8;
      slab[start + 2] = length & 0xff;
      pos = start + 3 + length;
    } else {
      if (reserved < 5) slab.copyWithin(start + 5, start + reserved, start + reserved + length);
      slab[start] = 0xdb;
      view.setUint32(start + 1, length);
      pos = start + 5 + length;
    }
  };

  const writeNumber = (n: number): void => {
    room(9);
    if (n >>> 0 === n) {
      if (n < 0x80) {
        slab[pos++] = n;
      } else if (n < 0x100) {
        slab[pos++] = 0xcc;
        slab[pos++] = n;
      } else if (n < 0x10000) {
        slab[pos++] = 0xcd;
        slab[pos++] = n >> 8;
        slab[pos++] = n & 0xff;
      } else {
        slab[pos++] = 0xce;
        view.setUint32(pos, n);
        pos += 4;
      }
    } else if (n >> 0 === n) {
      if (n >= -0x20) {
        slab[pos++] = 0x100 + n;
      } else if (n >= -0x80) {
        slab[pos++] = 0xd0;
        slab[pos++] = n + 0x100;
      } else if (n >= -0x8000) {
        slab[pos++] = 0xd1;
        view.setInt16(pos, n);
        pos += 2;
      } else {
        slab[pos++] = 0xd2;
        view.setInt32(pos, n);
        pos += 4;
      }
    } else {
      slab[pos++] = 0xcb;
      view.setFloat64(pos, n);
      pos += 8;
    }
  };

  const writeBytes = (bytes: Uint8Array): void => {
    const length = bytes.length;
    room(5 + length);
    if (length < 0x100) {
      slab[pos++] = 0xc4;
      slab[pos++] = length;
    } else if (length < 0x10000) {
      slab[pos++] = 0xc5;
      slab[pos++] = length >> 8;
      slab[pos++] = length & 0xff;
    } else {
      slab[pos++] = 0xc6;
      view.setUint32(pos, length);
      pos += 4;
    }
    slab.set(bytes, pos);
    pos += length;
  };

  // msgpackr's timestamp extension (-1): 32-bit seconds when whole and in range, 64-bit (nanoseconds and 34-bit
  // seconds) when positive and in range, 96-bit otherwise; an invalid date as fixext1 -1 with data -1.
  const writeDate = (date: Date): void => {
    room(15);
    const seconds = date.getTime() / 1000;
    if (date.getMilliseconds() === 0 && seconds >= 0 && seconds < 0x1_0000_0000) {
      slab[pos++] = 0xd6;
      slab[pos++] = 0xff;
      view.setUint32(pos, seconds);
      pos += 4;
    } else if (seconds > 0 && seconds < 0x4_0000_0000) {
      slab[pos++] = 0xd7;
      slab[pos++] = 0xff;
      view.setUint32(pos, date.getMilliseconds() * 4_000_000 + ((seconds / 0x1_0000_0000) >> 0));
      view.setUint32(pos + 4, seconds);
      pos += 8;
    } else if (Number.isNaN(seconds)) {
      slab[pos++] = 0xd4;
      slab[pos++] = 0xff;
      slab[pos++] = 0xff;
    } else {
      slab[pos++] = 0xc7;
      slab[pos++] = 12;
      slab[pos++] = 0xff;
      view.setUint32(pos, date.getMilliseconds() * 1_000_000);
      view.setBigInt64(pos + 4, BigInt(Math.floor(seconds)));
      pos += 12;
    }
  };

  const writeHeader = (length: number, fix: number, x16: number, x32: number): void => {
    room(5);
    if (length < 0x10) {
      slab[pos++] = fix | length;
    } else if (length < 0x10000) {
      slab[pos++] = x16;
      slab[pos++] = length >> 8;
      slab[pos++] = length & 0xff;
    } else {
      slab[pos++] = x32;
      view.setUint32(pos, length);
      pos += 4;
    }
  };

  /**
   * Writes `value`; false when it holds what only msgpackr writes (the bytes written until then count for
   * nothing).
   */
  const write = (value: unknown, depth: number): boolean => {
    switch (typeof value) {
      case 'string':
        writeString(value);
        return true;
      case 'number':
        writeNumber(value);
        return true;
      case 'boolean':
        room(1);
        slab[pos++] = value ? 0xc3 : 0xc2;
        return true;
      case 'undefined':
        room(1);
        slab[pos++] = 0xc0;
        return true;
      case 'bigint':
        // msgpackr's choice: int64 while it fits, else uint64; beyond 64 bits it is msgpackr's to refuse.
        room(9);
        if (value >= -0x8000_0000_0000_0000n && value < 0x8000_0000_0000_0000n) {
          slab[pos++] = 0xd3;
          view.setBigInt64(pos, value);
        } else if (value > 0n && value < 0x1_0000_0000_0000_0000n) {
          slab[pos++] = 0xcf;
          view.setBigUint64(pos, value);
        } else return false;
        pos += 8;
        return true;
      case 'object': {
        if (value === null) {
          room(1);
          slab[pos++] = 0xc0;
          return true;
        }
        if (depth >= MAX_DEPTH) return false;
        const kind = value.constructor;
        if (kind === Object) {
          const record = value as Record<string, unknown>;
          const keys = Object.keys(record);
          writeHeader(keys.length, 0x80, 0xde, 0xdf);
          for (let i = 0; i < keys.length; i++) {
            const key = keys[i] as string;
            writeString(key);
            if (!write(record[key], depth + 1)) return false;
          }
          return true;
        }
        if (kind === Array) {
          const array = value as unknown[];
          const length = array.length;
          writeHeader(length, 0x90, 0xdc, 0xdd);
          for (let i = 0; i < length; i++) if (!write(array[i], depth + 1)) return false;
          return true;
        }
        if (kind === Uint8Array || kind === Buffer) {
          writeBytes(value as Uint8Array);
          return true;
        }
        if (kind === Date) {
          writeDate(value as Date);
          return true;
        }
        return false;
      }
      default:
        return false;
    }
  };

  /** Set while a value is being written: an encode from inside it (a getter) goes to msgpackr. */
  let busy = false;

  return (value) => {
    if (busy) return undefined;
    busy = true;
    try {
      // A value that does not fit in the rest of the slab is written again into a fresh one, four times as
      // large as the room it outgrew when that was a whole slab already.
      for (;;) {
        const start = pos;
        let plain: boolean;
        try {
          plain = write(value, 0);
        } catch (err) {
          pos = start;
          if (err === NO_ROOM) {
            newSlab(start === 0 ? end * 4 : SLAB_BYTES);
            continue;
          }
          throw err;
        }
        if (!plain) {
          pos = start;
          return undefined;
        }
        return slab.subarray(start, pos);
      }
    } finally {
      busy = false;
    }
  };
}
