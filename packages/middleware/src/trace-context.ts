import { AsyncLocalStorage } from 'node:async_hooks';
import { randomFillSync } from 'node:crypto';

/** Metadata key of the W3C trace context header. */
export const TRACEPARENT = 'traceparent';
/** Metadata key of the W3C vendor trace state, passed along unchanged. */
export const TRACESTATE = 'tracestate';

/** The trace position of the current call, as {@link tracing} stores it in `ctx.state.trace`. */
export interface TraceContext {
  /** 32 lowercase hex digits, shared by every span of the trace. */
  readonly traceId: string;
  /** 16 lowercase hex digits: this span (this hop). */
  readonly spanId: string;
  /** The caller's span, absent when this span started the trace. */
  readonly parentSpanId: string | undefined;
  /** W3C trace flags; bit 0 (`1`) means the caller sampled the trace. */
  readonly flags: number;
  /** The W3C `tracestate` received with the call, passed on unchanged. */
  readonly traceState: string | undefined;
}

// One storage per process, even when the ESM and CJS builds (or two versions) of this package are loaded:
// the server's tracing() and a client's clientTracing() must see the same current trace.
const STORAGE_KEY = Symbol.for('@mini-rpc/middleware/trace-storage');
const holder = globalThis as { [STORAGE_KEY]?: AsyncLocalStorage<TraceContext> };
holder[STORAGE_KEY] ??= new AsyncLocalStorage();
const storage: AsyncLocalStorage<TraceContext> = holder[STORAGE_KEY];

/** The trace of the call whose handler is running now, or `undefined` outside one. */
export function currentTrace(): TraceContext | undefined {
  return storage.getStore();
}

/**
 * Runs `fn` with `trace` as the current trace, so that calls made inside it (through {@link clientTracing})
 * continue that trace. {@link tracing} does this for handlers; use it for work a handler starts that
 * outlives it, or in tests.
 */
export function runWithTrace<T>(trace: TraceContext, fn: () => T): T {
  return storage.run(trace, fn);
}

// Version not ff, neither id all zeros (lookaheads, so validating allocates nothing).
const HEADER = /^(?!ff)[0-9a-f]{2}-(?!0{32}-)[0-9a-f]{32}-(?!0{16}-)[0-9a-f]{16}-[0-9a-f]{2}(?:-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/**
 * True when `value` is a `traceparent` this package accepts (W3C Trace Context level 1): version 00 exactly
 * `00-<32 hex>-<16 hex>-<2 hex>`, later versions may append `-…`; lowercase hex, neither id all zeros,
 * version not `ff`.
 */
export function isValidTraceparent(value: string | undefined): value is string {
  if (value === undefined || !HEADER.test(value)) return false;
  // Version 00 has no trailing fields; later versions may add them (W3C Trace Context §3.2.4).
  return value.length === 55 || !value.startsWith('00');
}

/** Formats a version-00 `traceparent`. */
export function formatTraceparent(traceId: string, spanId: string, flags: number): string {
  return `00-${traceId}-${spanId}-${FLAG_HEX[flags & 0xff]}`;
}

const FLAG_HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

// Ids come from one random buffer refilled 4 KiB at a time: a syscall per ~340 ids, not per id.
const pool = Buffer.allocUnsafe(4096);
let offset = pool.length;

function randomHex(bytes: number, zero: string): string {
  for (;;) {
    if (offset + bytes > pool.length) {
      randomFillSync(pool);
      offset = 0;
    }
    const hex = pool.toString('hex', offset, offset + bytes);
    offset += bytes;
    if (hex !== zero) return hex; // all zeros is invalid (W3C); odds 2^-64 per span id
  }
}

/** A new random trace id (32 hex digits, never all zeros). */
export function newTraceId(): string {
  return randomHex(16, ZERO_TRACE);
}

/** A new random span id (16 hex digits, never all zeros). */
export function newSpanId(): string {
  return randomHex(8, ZERO_SPAN);
}

/** True when `value` is 16 lowercase hex digits, not all zeros (a usable span id). */
export function isSpanId(value: unknown): value is string {
  return typeof value === 'string' && /^(?!0{16}$)[0-9a-f]{16}$/.test(value);
}

/** True when `value` is 32 lowercase hex digits, not all zeros (a usable trace id). */
export function isTraceId(value: unknown): value is string {
  return typeof value === 'string' && /^(?!0{32}$)[0-9a-f]{32}$/.test(value);
}
