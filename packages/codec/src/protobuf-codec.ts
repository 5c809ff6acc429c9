import type { IConversionOptions, Root, Type } from 'protobufjs';
import protobuf from 'protobufjs';
import type { Codec, CodecSchema } from './codec.js';
import { CodecError, codecFailure } from './codec-error.js';
import { CodecId } from './codec-id.js';
import { StrictReader, WellFormedWriter } from './protobuf-io.js';

/** The protobuf message types of one method, by fully qualified name (`'pkg.TypeName'`). */
export interface ProtobufMethodTypes {
  readonly request: string;
  readonly response: string;
}

interface ProtobufCodecCommonOptions {
  /** Message types per method, keyed `'Service.method'` as the client calls it (e.g. `'Greeter.hello'`). */
  methods: Readonly<Record<string, ProtobufMethodTypes>>;
  /**
   * Keep field names of a `.proto` source as written (`user_id`) instead of camelCase (`userId`).
   * Default `false`, like protobufjs and @grpc/proto-loader. A JSON descriptor keeps its names as they are.
   */
  keepCase?: boolean;
}

/**
 * Options for {@link createProtobufCodec}: the message types, from `.proto` source text or a protobufjs JSON
 * descriptor (what `Root#toJSON()` or `pbjs -t json` produce), and which of them each method uses.
 */
export type ProtobufCodecOptions = ProtobufCodecCommonOptions &
  ({ proto: string; descriptor?: never } | { descriptor: object; proto?: never });

// Decoded messages are plain objects: 64-bit integers as numbers (what `verify` accepts back on encode),
// enums as numbers, bytes as Uint8Array, and every field present (defaults: 0, '', [], {}, null).
const TO_OBJECT: IConversionOptions = { longs: Number, defaults: true, arrays: true, objects: true };
const EMPTY_MESSAGE = {};

interface MethodTypes {
  request: Type;
  response: Type;
}

function loadRoot(options: ProtobufCodecOptions): Root {
  try {
    if (options.proto === undefined) return protobuf.Root.fromJSON(options.descriptor as protobuf.INamespace);
    const parsed = protobuf.parse(options.proto, { keepCase: options.keepCase ?? false });
    // Well-known types (google/protobuf/*.proto) ship with protobufjs; other imports must be inlined.
    for (const file of [...(parsed.imports ?? []), ...(parsed.weakImports ?? [])]) {
      const common = protobuf.common.get(file);
      if (common === null) throw new Error(`import "${file}" is not available: inline its definitions`);
      parsed.root.addJSON(common.nested ?? {});
    }
    return parsed.root;
  } catch (err) {
    if (err instanceof CodecError) throw err;
    throw new CodecError('invalid_schema', `protobuf: ${(err as Error).message}`, { cause: err });
  }
}

function resolveMethods(root: Root, methods: ProtobufCodecOptions['methods']): Map<string, MethodTypes> {
  const byKey = new Map<string, MethodTypes>();
  try {
    root.resolveAll();
    for (const [key, names] of Object.entries(methods)) {
      // setup() generates the encoder, decoder, verifier and converters now, not on the first call.
      const request = root.lookupType(names.request).setup();
      const response = root.lookupType(names.response).setup();
      byKey.set(key, { request, response });
    }
  } catch (err) {
    throw new CodecError('invalid_schema', `protobuf: ${(err as Error).message}`, { cause: err });
  }
  return byKey;
}

class ProtobufCodec implements Codec {
  readonly id = CodecId.Protobuf;
  readonly name = 'protobuf';
  readonly #byKey: Map<string, MethodTypes>;
  // Callers keep one schema object per method and direction, so the common lookup is one WeakMap get.
  readonly #bySchema = new WeakMap<CodecSchema, Type>();

  constructor(options: ProtobufCodecOptions) {
    this.#byKey = resolveMethods(loadRoot(options), options.methods);
  }

  #type(schema: CodecSchema | undefined): Type {
    if (schema === undefined) throw new CodecError('unknown_schema', 'protobuf: a schema is required');
    let type = this.#bySchema.get(schema);
    if (type === undefined) {
      const key = `${schema.service}.${schema.method}`;
      const types = this.#byKey.get(key);
      type =
        schema.kind === 'request' ? types?.request : schema.kind === 'response' ? types?.response : undefined;
      if (type === undefined) {
        throw new CodecError('unknown_schema', `protobuf: no ${String(schema.kind)} type for method ${key}`);
      }
      this.#bySchema.set(schema, type);
    }
    return type;
  }

  encode(value: unknown, schema?: CodecSchema): Uint8Array {
    const type = this.#type(schema);
    const object = value ?? EMPTY_MESSAGE;
    // The verifier takes an array for an object (it has no fields, so nothing fails) and fromObject turns it
    // into the empty message: refuse it rather than send zero bytes for [1, 2].
    if (typeof object !== 'object' || Array.isArray(object)) {
      const got = Array.isArray(object) ? 'an array' : typeof object;
      throw new CodecError('encode_failed', `protobuf: ${type.name} must be an object, got ${got}`);
    }
    try {
      // fromObject coerces quietly ('abc' becomes 0 in an int32), so check the value first. The check reads
      // every field, so it runs inside the try: a getter that throws is an encode_failed too.
      const problem = type.verify(object as Record<string, unknown>);
      if (problem !== null) throw new CodecError('encode_failed', `protobuf: ${type.name}: ${problem}`);
      return type.encode(type.fromObject(object as Record<string, unknown>), new WellFormedWriter()).finish();
    } catch (err) {
      throw codecFailure('encode_failed', `protobuf: cannot encode ${type.name}`, err);
    }
  }

  decode(bytes: Uint8Array, schema?: CodecSchema): unknown {
    const type = this.#type(schema);
    try {
      return type.toObject(type.decode(new StrictReader(bytes)), TO_OBJECT);
    } catch (err) {
      throw codecFailure(
        'decode_failed',
        `protobuf: cannot decode ${bytes.length} bytes as ${type.name}`,
        err,
      );
    }
  }
}

/**
 * Creates a Protobuf codec (codec id 1, protobufjs) that picks the message type per method and direction
 * from the call's {@link CodecSchema}. Types are resolved once, here; each call is a WeakMap lookup.
 *
 * Encode takes a plain object (or `undefined`/`null` for the empty message), checks it with the type's
 * verifier and converts it with `fromObject`. Decode returns a plain object with every field present
 * (defaults filled in; unset message fields `null`), enums as numbers, bytes as `Uint8Array` (views into
 * the input), and 64-bit integers as numbers: exact up to 2^53−1, rounded beyond. Encode takes 64-bit
 * integers as numbers or `Long`s. An empty payload decodes as the message with all defaults.
 *
 * Throws {@link CodecError} `invalid_schema` when the source does not parse or a named type is missing;
 * encode/decode throw `unknown_schema` without a schema or for a method not in `methods`, `encode_failed`
 * for a value that does not match its type, `decode_failed` for bytes that are not that message.
 *
 * @example
 * ```ts
 * const codec = createProtobufCodec({
 *   proto: 'syntax = "proto3"; package demo; message Req { string name = 1; } message Res { string text = 1; }',
 *   methods: { 'Greeter.hello': { request: 'demo.Req', response: 'demo.Res' } },
 * });
 * const bytes = codec.encode({ name: 'Ada' }, { service: 'Greeter', method: 'hello', kind: 'request' });
 * ```
 */
export function createProtobufCodec(options: ProtobufCodecOptions): Codec {
  return new ProtobufCodec(options);
}
