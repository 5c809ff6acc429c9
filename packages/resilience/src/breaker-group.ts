import type { BreakerState } from '@mini-rpc/protocol';
import { type CircuitBreakerOptions, resolveBreakerOptions } from './breaker-options.js';
import { type CircuitBreaker, StateMachineBreaker } from './circuit-breaker.js';
import { reportListenerError } from './listener-error.js';
import { assertMs } from './validate.js';

/** Breakers a group holds before it first looks for idle ones to forget; then twice the number it kept. */
const EVICT_FROM = 1_024;
// setInterval runs a callback due in more than 2^31-1 ms every 1 ms: a longer sweep period is capped.
const MAX_TIMER_MS = 2_147_483_647;

/** Called after the breaker of `instanceId` moved from one state to another. */
export type GroupStateChangeListener = (instanceId: string, from: BreakerState, to: BreakerState) => void;

/** Options for {@link createBreakerGroup}: every breaker's options, plus the group's own. */
export interface BreakerGroupOptions extends Omit<CircuitBreakerOptions, 'onStateChange'> {
  /** Listens to the state changes of every breaker; same as `on('stateChange', listener)` at once. */
  readonly onStateChange?: GroupStateChangeListener;
  /**
   * When > 0, one shared interval of this many ms runs while any breaker is open and looks at them all,
   * so their open → half-open events fire on time rather than at the next look. Default 0 (no timer);
   * `Infinity` is no timer too, and a period over 2^31-1 ms (the timer limit) is cut to it.
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
  /** Stops the shared sweep timer, if any, for good: no later trip starts it again. The breakers keep working. */
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
 * Breakers of instances that left go by themselves: once the group holds 1,024 breakers, making a new
 * one first forgets the idle ones (at least a window old, and closed with no result in the window, or
 * half-open and unprobed for `maxCoolDownMs`; never an open one, nor one with a listener added through
 * its own `on`), and the next such look waits until the group has doubled. An idle breaker is as good as
 * a new one, which is what its instance gets if it is called again; a result recorded later on the
 * forgotten object is dropped. `delete(id)` still forgets one at once; the client calls it for every
 * instance that leaves its registry list.
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
  // Infinity was a 1 ms interval (setInterval's overflow rule), looking at every breaker each time.
  const sweepEvery = sweepMs === Number.POSITIVE_INFINITY ? 0 : Math.min(sweepMs, MAX_TIMER_MS);
  const config = resolveBreakerOptions(breakerOptions);
  const breakers = new Map<string, StateMachineBreaker>();
  let listeners: readonly GroupStateChangeListener[] = onStateChange === undefined ? [] : [onStateChange];
  let timer: ReturnType<typeof setInterval> | undefined;
  let closed = false;
  let evictAt = EVICT_FROM;

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
    if (to === 'open' && sweepEvery > 0 && timer === undefined && !closed) {
      timer = setInterval(sweep, sweepEvery);
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

  // Without this, a group whose owner never calls `delete` (the `BreakerFactory` contract has no such
  // method: a plain function wrapping the group hides it) kept a breaker, and a `mini_rpc_circuit_state`
  // series, per instance ever seen when instances come and go (a deploy gives new ids).
  const evictIdle = (): void => {
    for (const [id, breaker] of breakers) if (breaker.isIdle(1)) breakers.delete(id);
    evictAt = Math.max(EVICT_FROM, 2 * breakers.size);
  };

  const factory = (instanceId: string): CircuitBreaker => {
    let breaker = breakers.get(instanceId);
    if (breaker === undefined) {
      if (breakers.size >= evictAt) evictIdle();
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
    close: () => {
      closed = true;
      stopSweep();
    },
  };
  Object.assign(factory, methods);
  Object.defineProperty(factory, 'size', { get: () => breakers.size, enumerable: true });
  return factory as BreakerGroup;
}
