import type { ServerContext, ServerMiddleware, ServerNext } from '@mini-rpc/protocol';
import { codeOf } from './code-of.js';
import { hexByte, runSpan } from './run-span.js';
import type { SpanStart, TracingOptions } from './span.js';
import type { TraceContext } from './trace-context.js';
import {
  isValidTraceparent,
  newSpanId,
  newTraceId,
  runWithTrace,
  TRACEPARENT,
  TRACESTATE,
} from './trace-context.js';

const SAMPLED = 1;

/**
 * Server middleware for W3C Trace Context: continues the caller's trace from the `traceparent` request
 * metadata (or starts a new trace when it is absent or malformed), gives this hop a new span id, stores
 * `{ traceId, spanId, parentSpanId, flags, traceState }` in `ctx.state.trace`, and makes it the current
 * trace for the rest of the chain (AsyncLocalStorage), so that calls the handler makes through a client
 * with {@link clientTracing} continue the same trace.
 *
 * A trace this hop starts is marked sampled (flags `01`); a continued one keeps the caller's flags, and the
 * flags are passed on, never acted upon here (sampling is the tracing system's decision).
 *
 * With `onSpan` and/or `otel` it also times the call and reports each finished span. Without them a call
 * costs one header check, one id and the AsyncLocalStorage run. Install it before {@link logging} so log
 * lines carry `traceId`.
 *
 * @example
 * ```ts
 * const middleware = [recovery(), tracing({ onSpan: (span) => spans.push(span) }), logging({ logger })];
 * ```
 */
export function tracing(options: TracingOptions = {}): ServerMiddleware {
  const observed = options.onSpan !== undefined || options.otel !== undefined;
  const classify = (ctx: ServerContext) => (err: unknown) => codeOf(err, ctx);
  return (ctx: ServerContext, next: ServerNext): Promise<void> => {
    const header = ctx.metadata[TRACEPARENT];
    const continued = isValidTraceparent(header);
    const traceId = continued ? header.slice(3, 35) : newTraceId();
    const parentSpanId = continued ? header.slice(36, 52) : undefined;
    const flags = continued ? hexByte(header, 53) : SAMPLED;
    const traceState = continued ? ctx.metadata[TRACESTATE] : undefined;
    if (!observed) {
      const trace: TraceContext = { traceId, spanId: newSpanId(), parentSpanId, flags, traceState };
      ctx.state.trace = trace;
      return runWithTrace(trace, next);
    }
    const start: SpanStart = {
      kind: 'server',
      service: ctx.service,
      method: ctx.method,
      traceId,
      parentSpanId,
      flags,
      traceState,
      startTime: performance.timeOrigin + performance.now(),
    };
    const body = (chosenTraceId: string, spanId: string): Promise<void> => {
      const trace: TraceContext = { traceId: chosenTraceId, spanId, parentSpanId, flags, traceState };
      ctx.state.trace = trace;
      return runWithTrace(trace, next);
    };
    return runSpan(start, options, body, classify(ctx));
  };
}
