import type { ServerMiddleware } from '@mini-rpc/protocol';
import type { Registry } from 'prom-client';
import type { AuthOptions } from './auth.js';
import { auth } from './auth.js';
import type { ErrorLogger, LevelLogger } from './logger.js';
import type { LoggingOptions } from './logging.js';
import { logging } from './logging.js';
import type { MetricsOptions } from './metrics.js';
import { metrics } from './metrics.js';
import type { RateLimitOptions } from './rate-limit.js';
import { rateLimit } from './rate-limit.js';
import { recovery } from './recovery.js';
import type { TracingOptions } from './span.js';
import { tracing } from './tracing.js';

/** Options for {@link defaultChain}. */
export interface DefaultChainOptions {
  /** Used by recovery (stacks) and logging (one line per call); a pino logger fits. */
  logger: ErrorLogger & LevelLogger;
  /** Where metrics go. Default: prom-client's global `register`. */
  registry?: Registry;
  /** Adds {@link auth} with these options. Omitted: no authentication. */
  auth?: AuthOptions;
  /** Adds {@link rateLimit} with these options. Omitted: no limit. */
  rateLimit?: RateLimitOptions;
  /** Adds {@link tracing} right after recovery (`true` for the defaults). Omitted or `false`: no tracing. */
  tracing?: TracingOptions | boolean;
  /** Further logging options (sampling, levels). */
  logging?: Omit<LoggingOptions, 'logger'>;
  /** Further metrics options (prefix, buckets). */
  metrics?: Omit<MetricsOptions, 'registry'>;
}

/**
 * The recommended server middleware, in the documented order (first = outermost):
 * `recovery → [tracing] → logging → metrics → [auth] → [rateLimit]`.
 *
 * Why this order: recovery outermost turns every unexpected error (its own neighbours' included) into
 * Internal; tracing before logging so log lines carry the trace id; logging and metrics see every call,
 * rejected ones too, with the code the caller receives; auth before the rate limit so that
 * `by: 'caller'` limits the authenticated identity and unauthenticated floods are refused before they
 * take tokens from real callers.
 *
 * @throws what the individual factories throw for invalid options.
 * @example
 * ```ts
 * const middleware = defaultChain({
 *   logger: pino(),
 *   registry,
 *   auth: { verify: hmacTokens({ secret }) },
 *   rateLimit: { rate: 500, burst: 50, by: 'caller' },
 * });
 * ```
 */
export function defaultChain(options: DefaultChainOptions): ServerMiddleware[] {
  const { logger } = options;
  const chain: ServerMiddleware[] = [recovery({ logger })];
  const traced = options.tracing;
  if (traced !== undefined && traced !== false) chain.push(tracing(traced === true ? {} : traced));
  // Successes are logged at debug here: at 100k+ calls/s a line per successful call is a firehose (and cost
  // half the throughput in apps/bench). Failures keep their warn/error levels; set `logging.levels.ok` to
  // 'info' (or run the logger at debug) to see every call.
  chain.push(logging({ ...options.logging, levels: { ok: 'debug', ...options.logging?.levels }, logger }));
  const metricsOptions: MetricsOptions = { ...options.metrics };
  if (options.registry !== undefined) metricsOptions.registry = options.registry;
  chain.push(metrics(metricsOptions));
  if (options.auth !== undefined) chain.push(auth(options.auth));
  if (options.rateLimit !== undefined) chain.push(rateLimit(options.rateLimit));
  return chain;
}
