import type { Balancer, CallOutcome, PickInfo, ServiceInstance } from '@mini-rpc/protocol';
import { Code, isCallerError, RpcError } from '@mini-rpc/protocol';
import { noInstances } from './no-instances.js';
import { indexFor } from './weight.js';

/** Options for {@link p2c}. */
export interface P2cOptions {
  /** Time constant of the latency average, in ms: older samples weigh `e^(-age/decay)`. Default 10,000. */
  decay?: number;
  /** Source of uniform numbers in [0, 1); inject a seeded one in tests. Default `Math.random`. */
  random?: () => number;
  /** Clock in ms; inject a fake one in tests. Default `performance.now` (monotonic), else `Date.now`. */
  now?: () => number;
  /**
   * A failed call (not a caller error, not cancelled) counts as at least this many times the service's
   * typical latency, so an instance that fails fast does not look fast. Default 10.
   */
  failurePenalty?: number;
}

/** What this client knows of one instance. */
interface Stats {
  outstanding: number;
  /** Peak-EWMA of latency in ms; NaN until the first sample. */
  ewma: number;
  /** When `ewma` was last updated (or the stats created), on the balancer's clock. */
  stamp: number;
  /** Samples so far; the first few are averaged plainly (see `blend`). */
  samples: number;
}

/** The typical latency of one service (EWMA of successful calls on all its instances). */
interface Prior {
  ewma: number;
  stamp: number;
  samples: number;
}

/** Prior used before a service has any sample: any constant works, as all instances then look alike. */
const UNKNOWN_PRIOR_MS = 1;
/** Stats idle for this many time constants have decayed to the prior; forgetting them loses nothing. */
const FORGET_AFTER = 5;
const SWEEP_EVERY = 1024;

/**
 * Creates a power-of-two-choices balancer with peak-EWMA latency: it draws two distinct instances at
 * random and sends the call to the cheaper, where cost = latency estimate × (calls in flight + 1).
 *
 * The latency estimate is an exponentially weighted moving average over time (time constant `decay`)
 * that jumps straight up to any slower sample ("peak"), and drifts back to the service's typical latency
 * while an instance gets no calls, so a once-slow instance is probed again later. An instance never seen
 * before starts at the typical latency, a neutral prior, so it is tried without being flooded. Weights
 * are ignored: measured load and latency decide.
 *
 * Why it beats the others for a slow instance: round robin and random keep sending it its full share;
 * least connections sees it only once calls pile up (with few concurrent calls every count is 0 and it
 * degrades to round robin); p2c sees its latency from the first answers and its backlog as it grows,
 * so it sends it few calls, and comparing just two random instances keeps many clients from all piling on
 * the one that looks best. The cost is O(1) per pick, allocation-free. Throws `RpcError(Unavailable)` when
 * the list is empty, and `RpcError(InvalidArgument)` at creation when `decay` is not a positive finite
 * number or `failurePenalty` not a finite number ≥ 0.
 *
 * @example
 * ```ts
 * const balancer = p2c(); // decay 10 s
 * const target = balancer.pick(instances, info);
 * balancer.onStart?.(target);
 * balancer.onEnd?.(target, { code: Code.OK, latencyMs: 12 });
 * ```
 */
export function p2c(options: P2cOptions = {}): Balancer {
  const decay = options.decay ?? 10_000;
  const failurePenalty = options.failurePenalty ?? 10;
  // Infinity would never forget a slow sample (a once-slow instance starved for good); a NaN penalty
  // made a failing instance's estimate NaN, read as "never seen": the typical latency, not 10 times it.
  if (!(decay > 0 && decay < Number.POSITIVE_INFINITY)) {
    throw new RpcError(Code.InvalidArgument, `decay must be positive and finite (ms), got ${decay}`);
  }
  if (!(failurePenalty >= 0 && failurePenalty < Number.POSITIVE_INFINITY)) {
    throw new RpcError(
      Code.InvalidArgument,
      `failurePenalty must be a finite number >= 0, got ${failurePenalty}`,
    );
  }
  return new P2c(decay, options.random ?? Math.random, options.now ?? defaultClock(), failurePenalty);
}

class P2c implements Balancer {
  readonly name = 'p2c';
  readonly #stats = new Map<string, Stats>();
  readonly #priors = new Map<string, Prior>();
  #ended = 0;

  constructor(
    private readonly decay: number,
    private readonly random: () => number,
    private readonly now: () => number,
    private readonly failurePenalty: number,
  ) {}

  pick(instances: readonly ServiceInstance[], info: PickInfo): ServiceInstance {
    const n = instances.length;
    if (n === 0) throw noInstances('p2c', info);
    if (n === 1) return instances[0]!;
    const a = indexFor(this.random(), n);
    let b = indexFor(this.random(), n - 1);
    if (b >= a) b++;
    const first = instances[a]!;
    const second = instances[b]!;
    const t = this.now();
    const prior = this.#priorOf(info.service);
    return this.#cost(first.id, prior, t) <= this.#cost(second.id, prior, t) ? first : second;
  }

  onStart(instance: ServiceInstance): void {
    const s = this.#stats.get(instance.id);
    if (s !== undefined) s.outstanding++;
    else this.#stats.set(instance.id, { outstanding: 1, ewma: Number.NaN, stamp: this.now(), samples: 0 });
  }

  onEnd(instance: ServiceInstance, outcome: CallOutcome): void {
    const t = this.now();
    let s = this.#stats.get(instance.id);
    if (s === undefined) {
      s = { outstanding: 0, ewma: Number.NaN, stamp: t, samples: 0 };
      this.#stats.set(instance.id, s);
    } else if (s.outstanding > 0) {
      s.outstanding--;
    }
    // A cancelled call says nothing about the instance: the caller gave up.
    if (outcome.code !== Code.Cancelled) {
      let latency = Number.isFinite(outcome.latencyMs) ? Math.max(outcome.latencyMs, 0) : 0;
      if (outcome.code === Code.OK || isCallerError(outcome.code))
        this.#updatePrior(instance.name, latency, t);
      else latency = Math.max(latency, this.#priorOf(instance.name) * this.failurePenalty);
      this.#observe(s, latency, t);
    }
    if (++this.#ended >= SWEEP_EVERY) {
      this.#ended = 0;
      this.#sweep(t);
    }
  }

  /** Weight in [0, 1] of what was known at `stamp`, seen at `t`. */
  #weightOfPast(stamp: number, t: number): number {
    return t > stamp ? Math.exp((stamp - t) / this.decay) : 1;
  }

  #priorOf(service: string): number {
    return this.#priors.get(service)?.ewma ?? UNKNOWN_PRIOR_MS;
  }

  /** Latency estimate × (calls in flight + 1); the estimate drifts back to `prior` while no sample comes. */
  #cost(id: string, prior: number, t: number): number {
    const s = this.#stats.get(id);
    if (s === undefined) return prior;
    const estimate = Number.isNaN(s.ewma) ? prior : prior + (s.ewma - prior) * this.#weightOfPast(s.stamp, t);
    return estimate * (s.outstanding + 1);
  }

  /** Peak-EWMA: a slower sample is taken as is; a faster one is blended in. */
  #observe(s: Stats, latency: number, t: number): void {
    if (Number.isNaN(s.ewma) || latency >= s.ewma) {
      s.ewma = latency;
      s.stamp = t;
      s.samples++;
    } else {
      this.#blend(s, latency, t);
    }
  }

  #updatePrior(service: string, latency: number, t: number): void {
    const prior = this.#priors.get(service);
    if (prior === undefined) this.#priors.set(service, { ewma: latency, stamp: t, samples: 1 });
    else this.#blend(prior, latency, t);
  }

  /**
   * Time-based EWMA step: the old value keeps the weight `e^(-Δt/decay)`. Early on it is at most
   * `1 - 1/samples`, a plain mean, so that the first sample (often the odd one out) does not dominate
   * for a whole time constant when many samples arrive at once.
   */
  #blend(e: Stats | Prior, latency: number, t: number): void {
    e.samples++;
    const w = Math.min(this.#weightOfPast(e.stamp, t), 1 - 1 / e.samples);
    e.ewma = e.ewma * w + latency * (1 - w);
    e.stamp = t;
  }

  #sweep(t: number): void {
    for (const [id, s] of this.#stats) {
      if (s.outstanding === 0 && t - s.stamp > FORGET_AFTER * this.decay) this.#stats.delete(id);
    }
  }
}

function defaultClock(): () => number {
  const perf = (globalThis as { performance?: { now(): number } }).performance;
  return perf === undefined ? Date.now : () => perf.now();
}
