import { Code } from '@mini-rpc/protocol';
import type { BridgeSpan, SpanStart, TracingBridge, TracingOptions } from './span.js';
import { isSpanId, isTraceId, newSpanId } from './trace-context.js';

/**
 * Runs one observed span (only used when `onSpan` or a bridge is installed): starts the bridge span, picks
 * the trace and span ids (the bridge's, when it has valid ones), runs `body` with them, and reports the
 * outcome to the bridge and `onSpan`.
 */
export async function runSpan<T>(
  start: SpanStart,
  options: TracingOptions,
  body: (traceId: string, spanId: string) => Promise<T>,
  classify: (err: unknown) => Code,
): Promise<T> {
  const bridgeSpan = startBridgeSpan(options.otel, start);
  const spanId = isSpanId(bridgeSpan?.spanId) ? bridgeSpan.spanId : newSpanId();
  const traceId = isTraceId(bridgeSpan?.traceId) ? bridgeSpan.traceId : start.traceId;
  const started = performance.now();
  let code: Code = Code.OK;
  let error: unknown;
  try {
    return await (bridgeSpan?.run === undefined
      ? body(traceId, spanId)
      : runIn(bridgeSpan, body, traceId, spanId));
  } catch (err) {
    code = classify(err);
    error = err;
    throw err;
  } finally {
    const durationMs = performance.now() - started;
    try {
      bridgeSpan?.end(code, error);
    } catch {
      // Tracing must never change a call's outcome.
    }
    try {
      options.onSpan?.({ ...start, traceId, spanId, durationMs, code, error });
    } catch {
      // As above.
    }
  }
}

/** The bridge's span, or none when the bridge throws: tracing must never change a call's outcome. */
function startBridgeSpan(otel: TracingBridge | undefined, start: SpanStart): BridgeSpan | undefined {
  if (otel === undefined) return undefined;
  try {
    return otel.startSpan(start);
  } catch {
    return undefined;
  }
}

/**
 * Runs `body` once inside the bridge's `run`, and answers with `body`'s own promise: a `run` that throws, never
 * calls its function, or does not return its result neither fails the call nor ends it early (and so leaves
 * no rejection unhandled).
 */
function runIn<T>(
  bridgeSpan: BridgeSpan,
  body: (traceId: string, spanId: string) => Promise<T>,
  traceId: string,
  spanId: string,
): Promise<T> {
  let outcome: Promise<T> | undefined;
  const once = (): Promise<T> => {
    if (outcome === undefined) {
      try {
        outcome = body(traceId, spanId);
      } catch (err) {
        outcome = Promise.reject(err);
      }
    }
    return outcome;
  };
  try {
    bridgeSpan.run?.(once);
  } catch {
    // The bridge failed; the call goes on without its context.
  }
  return once();
}

/** The value of a two-digit lowercase hex field at `at` (already validated). */
export function hexByte(text: string, at: number): number {
  return (hexDigit(text.charCodeAt(at)) << 4) | hexDigit(text.charCodeAt(at + 1));
}

function hexDigit(c: number): number {
  return c <= 57 ? c - 48 : c - 87; // '0'…'9', 'a'…'f'
}
