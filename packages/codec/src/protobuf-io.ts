import protobuf from 'protobufjs';

// Strict UTF-8, as proto3 requires of `string` fields; ignoreBOM keeps a leading U+FEFF as data.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** String#isWellFormed / #toWellFormed (ES2024, Node ≥ 20): the lib this package compiles against is ES2023. */
interface WellFormed {
  isWellFormed(): boolean;
  toWellFormed(): string;
}

/**
 * The protobufjs reader the codec decodes with: protobufjs's own, but `string()` fails on a length that runs
 * past the bytes and on bytes that are not UTF-8, whatever holds them.
 *
 * Why: protobufjs reads a Buffer (what the transport hands over for a frame that arrived whole) with a reader
 * that cuts a string running past the end short instead of failing, and decodes invalid UTF-8 as U+FFFD; a
 * Uint8Array (a frame that arrived split, copied) failed on the length, and read invalid UTF-8 as other
 * characters ("è" for c3 28). The same bytes gave different values depending on how they arrived.
 */
export class StrictReader extends protobuf.Reader {
  override string(): string {
    const length = this.uint32();
    const start = this.pos;
    const end = start + length;
    if (end > this.len) throw new RangeError(`index out of range: ${start} + ${length} > ${this.len}`);
    this.pos = end;
    const buf = this.buf;
    // Short ASCII strings (names, ids, enum-like values) are the common case: no subarray, no decoder call.
    if (length <= 32) {
      let text = '';
      for (let i = start; i < end; i++) {
        const b = buf[i] as number;
        if (b >= 0x80) return utf8.decode(buf.subarray(start, end));
        text += String.fromCharCode(b);
      }
      return text;
    }
    return utf8.decode(buf.subarray(start, end));
  }
}

/**
 * The protobufjs writer the codec encodes with: a lone surrogate in a string goes out as U+FFFD, as UTF-8
 * (and TextEncoder, and the frame's metadata) must. protobufjs wrote strings under 40 UTF-16 units with its
 * own encoder, which turns a lone surrogate into the three bytes of an encoded surrogate (ed a0 80): bytes no
 * strict UTF-8 reader takes, this package's included.
 */
export class WellFormedWriter extends protobuf.BufferWriter {
  override string(value: string): protobuf.Writer {
    const text = value as unknown as WellFormed;
    return super.string(text.isWellFormed() ? value : text.toWellFormed());
  }
}
