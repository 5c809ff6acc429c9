// Server middleware: recovery, logging, metrics, auth, rateLimit, tracing, defaultChain (see README for order).
// Client interceptors: bearer, clientMetrics, clientTracing. Scrape-time metrics: poolMetrics, breakerMetrics,
// served by serveMetrics. Credentials: staticTokens, hmacTokens, signHmacToken. Trace context helpers.
export type { AuthOptions } from './auth.js';
export { auth } from './auth.js';
export type { BearerOptions, TokenSource } from './bearer.js';
export { bearer } from './bearer.js';
export type { BreakerMetricsOptions } from './breaker-metrics.js';
export { breakerMetrics, CIRCUIT_STATE_VALUE } from './breaker-metrics.js';
export { DEFAULT_DURATION_BUCKETS } from './call-metrics.js';
export { clientMetrics } from './client-metrics.js';
export type { ClientTracingOptions } from './client-tracing.js';
export { clientTracing } from './client-tracing.js';
export type { DefaultChainOptions } from './default-chain.js';
export { defaultChain } from './default-chain.js';
export type { HmacSecret, HmacTokenClaims, HmacTokensOptions } from './hmac-tokens.js';
export { hmacTokens, signHmacToken } from './hmac-tokens.js';
export type { Identity, TokenVerifier } from './identity.js';
export type { ErrorLogger, LevelLogger, LogFn, LogLevel } from './logger.js';
export type { LoggingLevels, LoggingOptions } from './logging.js';
export { logging } from './logging.js';
export type { MetricsOptions } from './metrics.js';
export { metrics } from './metrics.js';
export type { PoolMetricsOptions, PoolStats } from './pool-metrics.js';
export { poolMetrics } from './pool-metrics.js';
export type { RateLimitOptions, RateLimitScope } from './rate-limit.js';
export { rateLimit } from './rate-limit.js';
export type { RecoveryOptions } from './recovery.js';
export { INTERNAL_ERROR_MESSAGE, recovery } from './recovery.js';
export type { MetricsSource } from './scrape-sources.js';
export type { MetricsServer, ServeMetricsOptions } from './serve-metrics.js';
export { serveMetrics } from './serve-metrics.js';
export type { BridgeSpan, SpanKind, SpanRecord, SpanStart, TracingBridge, TracingOptions } from './span.js';
export { staticTokens } from './static-tokens.js';
export type { TraceContext } from './trace-context.js';
export {
  currentTrace,
  formatTraceparent,
  isValidTraceparent,
  newSpanId,
  newTraceId,
  runWithTrace,
  TRACEPARENT,
  TRACESTATE,
} from './trace-context.js';
export { tracing } from './tracing.js';
