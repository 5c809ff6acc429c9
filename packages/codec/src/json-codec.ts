import type { Codec } from './codec.js';
import { CodecError, codecFailure } from './codec-error.js';
import { CodecId } from './codec-id.js';

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
// fatal: bytes that are not UTF-8 are a decode error, not U+FFFD in the caller's strings.
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * JSON as UTF-8 text (codec id 0): `JSON.stringify` / `JSON.parse` through a shared TextEncoder/TextDecoder.
 *
 * Carries JSON values only: a `Date` becomes its ISO string, `Map`/`Set` become `{}`, `undefined` inside an
 * object is dropped and inside an array becomes `null`. A top-level `undefined` (a method with no arguments
 * or no result) is sent as an empty payload, and an empty payload decodes as `undefined`; `null` stays
 * `null`. The schema is ignored.
 *
 * Throws {@link CodecError} `encode_failed` for a cycle, a bigint, or a function or symbol as the whole
 * value, `decode_failed` for bytes that are not UTF-8 JSON.
 */
export const jsonCodec: Codec = {
  id: CodecId.Json,
  name: 'json',
  encode(value: unknown): Uint8Array {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (err) {
      throw codecFailure('encode_failed', 'json: cannot encode the value', err);
    }
    if (text !== undefined) return encoder.encode(text);
    // JSON.stringify returns undefined for undefined (no value: nothing to send), and for a function or a
    // symbol, which would arrive as undefined too: a mistake to report, not a value to lose quietly.
    if (value === undefined) return EMPTY;
    throw new CodecError('encode_failed', `json: cannot encode a ${typeof value}`);
  },
  decode(bytes: Uint8Array): unknown {
    if (bytes.length === 0) return undefined;
    try {
      return JSON.parse(decoder.decode(bytes));
    } catch (err) {
      throw codecFailure('decode_failed', `json: cannot decode ${bytes.length} bytes`, err);
    }
  },
};
