import type { CallNext, CallRequest, ClientInterceptor } from '@mini-rpc/protocol';
import { codeFrom } from './code-of.js';
import { runSpan } from './run-span.js';
import type { SpanStart, TracingOptions } from './span.js';
import {
  currentTrace,
  formatTraceparent,
  newSpanId,
  newTraceId,
  TRACEPARENT,
  TRACESTATE,
} from './trace-context.js';

/** Options for {@link clientTracing}. */
export interface ClientTracingOptions extends TracingOptions {
  /** Start a new trace for calls made outside any traced call. Default true; false sends no header then. */
  newTraces?: boolean;
}

const SAMPLED = 1;

/**
 * Client interceptor for W3C Trace Context: sends `traceparent` (and `tracestate`) metadata with each call.
 * Inside a handler run by a server with {@link tracing}, the call continues that handler's trace (found
 * through AsyncLocalStorage, or set with {@link runWithTrace}); the call gets its own new span id, which the
 * server records as its parent. A `traceparent` the caller already put in the metadata is left alone.
 *
 * @example
 * ```ts
 * const client = createClient({ interceptors: [clientTracing()] });
 * // in a handler of a server with tracing(): this call joins the handler's trace
 * await client.call('Billing', 'charge', [order]);
 * ```
 */
export function clientTracing(options: ClientTracingOptions = {}): ClientInterceptor {
  const observed = options.onSpan !== undefined || options.otel !== undefined;
  const newTraces = options.newTraces ?? true;
  return (next: CallNext): CallNext =>
    (call: CallRequest): Promise<unknown> => {
      if (call.metadata[TRACEPARENT] !== undefined) return next(call);
      const parent = currentTrace();
      if (parent === undefined && !newTraces) return next(call);
      const traceId = parent?.traceId ?? newTraceId();
      const flags = parent?.flags ?? SAMPLED;
      const traceState = parent?.traceState;
      if (!observed) {
        send(call, traceId, newSpanId(), flags, traceState);
        return next(call);
      }
      const start: SpanStart = {
        kind: 'client',
        service: call.service,
        method: call.method,
        traceId,
        parentSpanId: parent?.spanId,
        flags,
        traceState,
        startTime: performance.timeOrigin + performance.now(),
      };
      const body = (chosenTraceId: string, spanId: string): Promise<unknown> => {
        send(call, chosenTraceId, spanId, flags, traceState);
        return next(call);
      };
      return runSpan(start, options, body, codeFrom);
    };
}

function send(
  call: CallRequest,
  traceId: string,
  spanId: string,
  flags: number,
  traceState: string | undefined,
): void {
  call.metadata[TRACEPARENT] = formatTraceparent(traceId, spanId, flags);
  if (traceState !== undefined) call.metadata[TRACESTATE] = traceState;
}
