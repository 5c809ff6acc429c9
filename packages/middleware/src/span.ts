import type { Code } from '@mini-rpc/protocol';

/** Where a span sits: the server handling a call, or the client making one. */
export type SpanKind = 'server' | 'client';

/** What is known when a span starts, as a {@link TracingBridge} sees it. */
export interface SpanStart {
  readonly kind: SpanKind;
  readonly service: string;
  readonly method: string;
  readonly traceId: string;
  /** The span this one is a child of; absent for the root of a trace. */
  readonly parentSpanId: string | undefined;
  readonly flags: number;
  readonly traceState: string | undefined;
  /** Start time, ms since the epoch (sub-millisecond precision). */
  readonly startTime: number;
}

/** A finished span, as `onSpan` receives it. */
export interface SpanRecord extends SpanStart {
  readonly spanId: string;
  readonly durationMs: number;
  /** The call's status code (`Code.OK` on success). */
  readonly code: Code;
  /** What the call threw, if it failed. */
  readonly error: unknown;
}

/**
 * A span as a tracing system (e.g. OpenTelemetry) represents it, returned by {@link TracingBridge.startSpan}.
 */
export interface BridgeSpan {
  /** This span's id (16 lowercase hex) if the tracing system chose one; mini-rpc then propagates it. */
  readonly spanId?: string;
  /**
   * The trace id (32 lowercase hex) if the tracing system chose it, as it does for the root span of a new
   * trace; mini-rpc then uses it instead of the one in {@link SpanStart}.
   */
  readonly traceId?: string;
  /**
   * Runs `fn` with this span current in the tracing system's own context (e.g. OTel `context.with`). Errors it
   * throws are ignored (the call then runs outside that context), and the call is awaited whatever it returns.
   */
  run?<T>(fn: () => T): T;
  /** Called once when the call finishes. Errors thrown here are ignored. */
  end(code: Code, error: unknown): void;
}

/**
 * Connects {@link tracing} / {@link clientTracing} to a tracing system without depending on it: one method,
 * called when a span starts. See the README for an OpenTelemetry bridge in a dozen lines.
 */
export interface TracingBridge {
  /** Called when a span starts. If it throws, the call goes on without a bridge span. */
  startSpan(span: SpanStart): BridgeSpan;
}

/** Options shared by {@link tracing} and {@link clientTracing}. */
export interface TracingOptions {
  /** Called with each finished span. Errors thrown here are ignored. */
  onSpan?: (span: SpanRecord) => void;
  /** A bridge to a tracing system such as OpenTelemetry. */
  otel?: TracingBridge;
}
