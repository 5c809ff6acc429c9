import type { BreakerState } from '@mini-rpc/protocol';
import { type CircuitBreakerOptions, resolveBreakerOptions } from './breaker-options.js';
import { type CircuitBreaker, StateMachineBreaker } from './circuit-breaker.js';
import { reportListenerError } from './listener-error.js';
import { assertMs } from './validate.js';

/** Called after the breaker of `instanceId` moved from one state to another. */
export type GroupStateChangeListener = (instanceId: string, from: BreakerState, to: BreakerState) => void;

/** Options for {@link createBreakerGroup}: every breaker's options, plus the group's own. */
export interface BreakerGroupOptions extends Omit<CircuitBreakerOptions, 'onStateChange'> {
  /** Listens to the state changes of every breaker; same as `on('stateChange', listener)` at once. */
  readonly onStateChange?: GroupStateChangeListener;
  /**
   * When > 0, one shared interval of this many ms runs while any breaker is open and looks at them all,
   * so their open → half-open events fire on time rather than at the next look. Default 0 (no timer).
   */
  readonly sweepMs?: number;
}

/**
 * A `BreakerFactory` (call it with an instance id to get that instance's breaker, made once and cached)
 * that also sees all its breakers, for metrics and clean-up.
 */
export interface BreakerGroup {
  (instanceId: string): CircuitBreaker;
  /** The breaker of `instanceId` if it exists; does not create one. */
  get(instanceId: string): CircuitBreaker | undefined;
  /** The state of every breaker, by instance id (reading it applies any due open → half-open change). */
  states(): Map<string, BreakerState>;
  /** Adds a listener of every breaker's state changes; returns a function that removes it. */
  on(event: 'stateChange', listener: GroupStateChangeListener): () => void;
  /** Forgets the breaker of an instance that left (e.g. removed from the registry). */
  delete(instanceId: string): boolean;
  /** Number of breakers in the group. */
  readonly size: number;
  /** Stops the shared sweep timer, if any. The breakers keep working. */
  close(): void;
}

/**
 * Creates a group of circuit breakers, one per instance, sharing one configuration and one clock.
 *
 * A breaker needs no timer (its open → half-open change is a comparison with `now()` when it is looked
 * at), so a thousand breakers cost a thousand small objects and no timer; `sweepMs` adds at most one
 * interval for the whole group. Options are checked once, here. A listener that throws does not stop the
 * other listeners nor reach the breaker's caller or the sweep: its error goes to `onListenerError`, or
 * by default to a `MiniRpcListenerWarning` process warning.
 *
 * @throws RpcError(InvalidArgument) when an option is out of range.
 * @example
 * ```ts
 * const breakers = createBreakerGroup({ consecutiveFailures: 5 });
 * breakers.on('stateChange', (id, from, to) => circuitGauge.set({ instance: id }, to === 'open' ? 1 : 0));
 * const breaker = breakers('10.0.0.7:4000'); // the same breaker on every call for this instance
 * ```
 */
export function createBreakerGroup(options: BreakerGroupOptions = {}): BreakerGroup {
  const { onStateChange, sweepMs = 0, ...breakerOptions } = options;
  assertMs(sweepMs, 'sweepMs');
  const config = resolveBreakerOptions(breakerOptions);
  const breakers = new Map<string, StateMachineBreaker>();
  let listeners: readonly GroupStateChangeListener[] = onStateChange === undefined ? [] : [onStateChange];
  let timer: ReturnType<typeof setInterval> | undefined;

  const sweep = (): void => {
    let open = false;
    for (const breaker of breakers.values()) if (breaker.state === 'open') open = true;
    if (!open) stopSweep();
  };
  const stopSweep = (): void => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
  };
  const emit = (instanceId: string, from: BreakerState, to: BreakerState): void => {
    if (to === 'open' && sweepMs > 0 && timer === undefined) {
      timer = setInterval(sweep, sweepMs);
      // Runtime-neutral: Node's timers can be unref'd so a sweep never keeps a process alive.
      (timer as { unref?: () => void }).unref?.();
    }
    // A throwing listener must not stop the others, nor escape into the sweep interval (an uncaught
    // exception there would end the process).
    for (const listener of listeners) {
      try {
        listener(instanceId, from, to);
      } catch (error) {
        reportListenerError(config.onListenerError, error);
      }
    }
  };

  const factory = (instanceId: string): CircuitBreaker => {
    let breaker = breakers.get(instanceId);
    if (breaker === undefined) {
      breaker = new StateMachineBreaker(config);
      breaker.on('stateChange', (from, to) => emit(instanceId, from, to));
      breakers.set(instanceId, breaker);
    }
    return breaker;
  };
  const methods: Omit<BreakerGroup, 'size'> = {
    get: (instanceId) => breakers.get(instanceId),
    states: () => {
      const states = new Map<string, BreakerState>();
      for (const [id, breaker] of breakers) states.set(id, breaker.state);
      return states;
    },
    on: (_event, listener) => {
      listeners = [...listeners, listener];
      return () => {
        listeners = listeners.filter((l) => l !== listener);
      };
    },
    delete: (instanceId) => breakers.delete(instanceId),
    close: stopSweep,
  };
  Object.assign(factory, methods);
  Object.defineProperty(factory, 'size', { get: () => breakers.size, enumerable: true });
  return factory as BreakerGroup;
}
