import type { Breaker, BreakerState } from '@mini-rpc/protocol';
import { Code, isCallerError, RpcError } from '@mini-rpc/protocol';
import {
  type BreakerConfig,
  type CircuitBreakerOptions,
  resolveBreakerOptions,
  type StateChangeListener,
} from './breaker-options.js';
import { reportListenerError } from './listener-error.js';
import { RollingWindow } from './rolling-window.js';

/** A snapshot of a breaker's counters, for metrics and debugging. */
export interface BreakerStats {
  readonly state: BreakerState;
  /** Failures in a row while closed. */
  readonly consecutiveFailures: number;
  /** Calls and failures counted in the rolling window while closed (caller errors excluded). */
  readonly windowCalls: number;
  readonly windowFailures: number;
  /** Times the breaker opened since it was created. */
  readonly trips: number;
  /** Probes running now (half-open only). */
  readonly probesInFlight: number;
  /** When the current open period ends (`now()` clock); 0 unless open. */
  readonly openUntil: number;
}

/** A circuit breaker for one instance: the `Breaker` contract plus `execute`, events and stats. */
export interface CircuitBreaker extends Breaker {
  /**
   * Runs `fn` if the breaker lets a call through and records how it ended (a thrown non-RpcError counts
   * as Unknown). Throws RpcError(Unavailable) without calling `fn` when it does not.
   */
  execute<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Changes (grows by 1) on every state change, so a result can be matched with the state its call was
   * admitted in. Reading it applies a due open → half-open change, like `state`. Read it right after
   * `allowRequest()` returned true and pass it to `recordSuccess(generation)` /
   * `recordFailure(code, generation)`: a result from another generation is then ignored.
   */
  readonly generation: number;
  /** Adds a listener of state changes; returns a function that removes it. */
  on(event: 'stateChange', listener: StateChangeListener): () => void;
  stats(): BreakerStats;
}

/**
 * Creates a circuit breaker (our own state machine, docs/resilience.md §3).
 *
 * - closed → open after `consecutiveFailures` failures in a row, or when at least `minimumCalls` calls in
 *   the rolling window failed at a rate ≥ `failureRateThreshold`;
 * - open → half-open once the cool-down has passed: checked lazily whenever `state` or `allowRequest()`
 *   is read, so a breaker owns no timer (its open → half-open event fires at that first look);
 * - half-open admits at most `halfOpenMaxProbes` calls at once; `successesToClose` successes close it, one
 *   failure opens it again with the cool-down multiplied by `coolDownFactor` (capped at `maxCoolDownMs`).
 *
 * Caller errors (`isCallerError`: InvalidArgument, NotFound, Unauthenticated, Cancelled, …) never count; in
 * half-open they only free their probe slot. Results that arrive while open (calls let through before the
 * trip) are ignored. A result recorded with the `generation` its call was admitted in is ignored once the
 * state has changed since: a call let through while closed that ends after the breaker went half-open
 * neither closes it nor frees a probe's slot (`execute` does this itself). Listeners run synchronously
 * after the state changed; one that throws never breaks the breaker, its caller or the other listeners:
 * its error goes to `onListenerError`, or by default to a `MiniRpcListenerWarning` process warning.
 *
 * @throws RpcError(InvalidArgument) when an option is out of range.
 * @example
 * ```ts
 * const breaker = createCircuitBreaker({ consecutiveFailures: 3, coolDownMs: 1_000 });
 * breaker.on('stateChange', (from, to) => console.log(`circuit ${from} -> ${to}`));
 * const value = await breaker.execute(() => callSomething());
 * ```
 */
export function createCircuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreaker {
  const breaker = new StateMachineBreaker(resolveBreakerOptions(options));
  if (options.onStateChange !== undefined) breaker.on('stateChange', options.onStateChange);
  return breaker;
}

/** The implementation; also built directly by the breaker group with a config it resolved once. */
export class StateMachineBreaker implements CircuitBreaker {
  private current: BreakerState = 'closed';
  private consecutive = 0;
  private readonly window: RollingWindow;
  private openUntil = 0;
  /** When the current open period began (`now()` clock). */
  private openedAt = 0;
  private trips = 0;
  /** The cool-down of the next trip: `coolDownMs`, grown by `coolDownFactor` on each trip until it closes. */
  private nextCoolDown: number;
  private probes = 0;
  private probeSuccesses = 0;
  private gen = 0;
  private listeners: readonly StateChangeListener[] = [];
  /** When the breaker was made (`now()` clock), for {@link isIdle}. */
  private createdAt: number;

  constructor(private readonly config: BreakerConfig) {
    this.createdAt = config.now();
    this.window = new RollingWindow(config.windowMs, config.windowBuckets, this.createdAt);
    this.nextCoolDown = config.coolDownMs;
  }

  get state(): BreakerState {
    this.coolDown();
    return this.current;
  }

  get generation(): number {
    this.coolDown();
    return this.gen;
  }

  allowRequest(): boolean {
    if (this.current === 'closed') return true;
    if (this.state === 'open' || this.probes >= this.config.halfOpenMaxProbes) return false;
    this.probes++;
    return true;
  }

  recordSuccess(generation?: number): void {
    // A late result of a call admitted in an earlier state says nothing about this one (and its slot is
    // gone: moveTo reset the probes).
    if (generation !== undefined && generation !== this.gen) return;
    if (this.current === 'closed') {
      this.consecutive = 0;
      this.window.add(this.config.now(), 1, 0);
    } else if (this.current === 'half-open') {
      if (this.probes > 0) this.probes--;
      if (++this.probeSuccesses >= this.config.successesToClose) this.moveTo('closed');
    }
  }

  recordFailure(code: Code, generation?: number): void {
    if (generation !== undefined && generation !== this.gen) return;
    if (isCallerError(code)) {
      if (this.current === 'half-open' && this.probes > 0) this.probes--;
    } else if (this.current === 'closed') {
      this.consecutive++;
      this.window.add(this.config.now(), 1, 1);
      const { totalA: calls, totalB: failures } = this.window;
      // failures / calls, not failures >= calls × threshold: the product rounds (0.28 × 25 is
      // 7.000000000000001), so 7 failures in 25 calls did not reach a threshold of 0.28.
      if (
        this.consecutive >= this.config.consecutiveFailures ||
        (calls >= this.config.minimumCalls && failures / calls >= this.config.failureRateThreshold)
      ) {
        this.trip();
      }
    } else if (this.current === 'half-open') {
      this.trip();
    }
  }

  async execute<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.allowRequest()) {
      throw new RpcError(
        Code.Unavailable,
        this.current === 'open'
          ? 'circuit breaker is open'
          : 'circuit breaker is half-open and its probes are busy',
      );
    }
    const generation = this.gen;
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      this.recordFailure(RpcError.from(error).code, generation);
      throw error;
    }
    this.recordSuccess(generation);
    return result;
  }

  on(_event: 'stateChange', listener: StateChangeListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  stats(): BreakerStats {
    const state = this.state;
    this.window.advance(this.config.now());
    return {
      state,
      consecutiveFailures: this.consecutive,
      windowCalls: this.window.totalA,
      windowFailures: this.window.totalB,
      trips: this.trips,
      probesInFlight: state === 'half-open' ? this.probes : 0,
      openUntil: state === 'open' ? this.openUntil : 0,
    };
  }

  /**
   * Whether forgetting this breaker loses nothing that its instance's next calls need: at least a window
   * old, and either closed with no result in its window, or half-open with no probe for `maxCoolDownMs`
   * after its cool-down ended (nobody called the instance since: it has probably left). Never while open,
   * nor while it has listeners beyond the first `ownListeners` (whoever added them holds on to it).
   * Internal: the breaker group forgets idle breakers of instances that left.
   */
  isIdle(ownListeners: number): boolean {
    if (this.listeners.length > ownListeners) return false;
    const state = this.state;
    const now = this.config.now();
    if (now < this.createdAt) this.createdAt = now; // a clock that went back
    if (now - this.createdAt < this.config.windowMs) return false;
    if (state === 'closed') {
      this.window.advance(now);
      return this.window.totalA === 0;
    }
    return (
      state === 'half-open' &&
      this.probes === 0 &&
      this.probeSuccesses === 0 &&
      now - this.openUntil >= this.config.maxCoolDownMs
    );
  }

  /** Applies a due open → half-open change: the breaker's only timing, done when it is looked at. */
  private coolDown(): void {
    if (this.current !== 'open') return;
    const now = this.config.now();
    if (now >= this.openUntil) this.moveTo('half-open');
    else if (now < this.openedAt) {
      // The clock went back past the trip (an NTP step, a VM restored): wait one cool-down from now
      // rather than the cool-down plus however far the clock jumped.
      this.openUntil = now + (this.openUntil - this.openedAt);
      this.openedAt = now;
    }
  }

  private trip(): void {
    const { coolDownFactor, maxCoolDownMs } = this.config;
    const now = this.config.now();
    this.openedAt = now;
    this.openUntil = now + this.nextCoolDown;
    // Grown a step per trip and no further than the cap: coolDownMs × factor^trips overflowed to Infinity
    // after ~1,000 trips in a row, and with coolDownMs 0 that made 0 × Infinity = NaN, an open period
    // that never ended.
    if (this.nextCoolDown > 0 && this.nextCoolDown < maxCoolDownMs) {
      this.nextCoolDown = Math.min(maxCoolDownMs, this.nextCoolDown * coolDownFactor);
    }
    this.trips++;
    this.moveTo('open');
  }

  private moveTo(to: BreakerState): void {
    const from = this.current;
    this.current = to;
    this.gen++;
    this.probes = 0;
    this.probeSuccesses = 0;
    if (to !== 'half-open') {
      // A new closed period (or the one after this open period) starts with a clean count.
      this.consecutive = 0;
      this.window.clear();
    }
    if (to === 'closed') this.nextCoolDown = this.config.coolDownMs;
    for (const listener of this.listeners) {
      try {
        listener(from, to);
      } catch (error) {
        reportListenerError(this.config.onListenerError, error);
      }
    }
  }
}
