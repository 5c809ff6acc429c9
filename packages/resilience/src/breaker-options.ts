import type { BreakerState } from '@mini-rpc/protocol';
import type { ListenerErrorHandler } from './listener-error.js';
import { assertCount, assertMs, assertRange, invalid } from './validate.js';

/** Called after a breaker moved from one state to another. */
export type StateChangeListener = (from: BreakerState, to: BreakerState) => void;

/** Options for {@link createCircuitBreaker} (and, apart from the listener, {@link createBreakerGroup}). */
export interface CircuitBreakerOptions {
  /** Trip after this many failures in a row. Default 5; `Infinity` turns the rule off. */
  readonly consecutiveFailures?: number;
  /** Trip when failures / calls over the window reach this (0 < r ≤ 1). Default 0.5. */
  readonly failureRateThreshold?: number;
  /** Calls the window must hold before the rate rule applies. Default 20; `Infinity` turns the rule off. */
  readonly minimumCalls?: number;
  /** Span of the rolling window, in ms. Default 10 000. */
  readonly windowMs?: number;
  /** Buckets the window is counted in (its resolution is `windowMs / windowBuckets`). Default 10. */
  readonly windowBuckets?: number;
  /** Time open before the first probe, in ms. Default 5 000. */
  readonly coolDownMs?: number;
  /** Each trip again without closing in between multiplies the cool-down by this. Default 2 (1: fixed). */
  readonly coolDownFactor?: number;
  /** Cap on the grown cool-down, in ms. Default 60 000. */
  readonly maxCoolDownMs?: number;
  /** Calls let through at the same time while half-open. Default 3; `Infinity` for no limit. */
  readonly halfOpenMaxProbes?: number;
  /** Successful probes that close the breaker (finite). Default `halfOpenMaxProbes`. */
  readonly successesToClose?: number;
  /** The clock, in ms. Default `Date.now` (which vitest's fake timers drive). */
  readonly now?: () => number;
  /** Listens to every state change; same as calling `on('stateChange', listener)` at once. */
  readonly onStateChange?: StateChangeListener;
  /**
   * Receives what a state-change listener throws. A listener's error never reaches the breaker's caller
   * (nor the group's sweep timer), and the other listeners still run. Default: report it with
   * `process.emitWarning` as a `MiniRpcListenerWarning` whose `cause` is the error (`console.warn` where
   * there is no `process`). What this handler throws is reported that way too.
   */
  readonly onListenerError?: ListenerErrorHandler;
}

/** {@link CircuitBreakerOptions} checked and with defaults applied. Internal. */
export interface BreakerConfig {
  readonly consecutiveFailures: number;
  readonly failureRateThreshold: number;
  readonly minimumCalls: number;
  readonly windowMs: number;
  readonly windowBuckets: number;
  readonly coolDownMs: number;
  readonly coolDownFactor: number;
  readonly maxCoolDownMs: number;
  readonly halfOpenMaxProbes: number;
  readonly successesToClose: number;
  readonly now: () => number;
  readonly onListenerError: ListenerErrorHandler | undefined;
}

/** Applies the defaults and checks the options; throws RpcError(InvalidArgument) on a bad one. */
export function resolveBreakerOptions(options: CircuitBreakerOptions): BreakerConfig {
  const halfOpenMaxProbes = options.halfOpenMaxProbes ?? 3;
  const config: BreakerConfig = {
    consecutiveFailures: options.consecutiveFailures ?? 5,
    failureRateThreshold: options.failureRateThreshold ?? 0.5,
    minimumCalls: options.minimumCalls ?? 20,
    windowMs: options.windowMs ?? 10_000,
    windowBuckets: options.windowBuckets ?? 10,
    coolDownMs: options.coolDownMs ?? 5_000,
    coolDownFactor: options.coolDownFactor ?? 2,
    maxCoolDownMs: options.maxCoolDownMs ?? Math.max(60_000, options.coolDownMs ?? 0),
    halfOpenMaxProbes,
    successesToClose: options.successesToClose ?? halfOpenMaxProbes,
    now: options.now ?? Date.now,
    onListenerError: options.onListenerError,
  };
  assertCount(config.consecutiveFailures, 'consecutiveFailures', 1);
  if (!(config.failureRateThreshold > 0 && config.failureRateThreshold <= 1)) {
    invalid('failureRateThreshold', 'a number in (0, 1]', config.failureRateThreshold);
  }
  assertCount(config.minimumCalls, 'minimumCalls', 1);
  assertRange(config.windowMs, 'windowMs', 1, 2 ** 31);
  assertCount(config.windowBuckets, 'windowBuckets', 1);
  if (config.windowBuckets > 1_000) invalid('windowBuckets', 'at most 1000', config.windowBuckets);
  assertMs(config.coolDownMs, 'coolDownMs');
  assertRange(config.coolDownFactor, 'coolDownFactor', 1, Number.POSITIVE_INFINITY);
  assertRange(config.maxCoolDownMs, 'maxCoolDownMs', config.coolDownMs, Number.POSITIVE_INFINITY);
  assertCount(config.halfOpenMaxProbes, 'halfOpenMaxProbes', 1);
  assertCount(config.successesToClose, 'successesToClose', 1);
  // Infinity successes would never come: a breaker that went half-open would stay there for good.
  if (config.successesToClose === Number.POSITIVE_INFINITY) {
    invalid(
      'successesToClose',
      options.successesToClose === undefined
        ? 'finite (it defaults to halfOpenMaxProbes: set it when halfOpenMaxProbes is Infinity)'
        : 'finite',
      config.successesToClose,
    );
  }
  return config;
}
