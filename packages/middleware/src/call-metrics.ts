import { Code, codeName } from '@mini-rpc/protocol';
import type { Counter, Gauge, Registry } from 'prom-client';
import type { DurationSeries } from './duration-metric.js';
import { type DurationMetric, durationMetricIn } from './duration-metric.js';
import { counterIn, gaugeIn } from './metric-store.js';
import { sourcesOf } from './scrape-sources.js';

/**
 * Default duration buckets, in seconds: from 0.5 ms (a local call) to 10 s (prom-client's own defaults start
 * at 5 ms, too coarse for RPC).
 */
export const DEFAULT_DURATION_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** How many status codes there are (Code.OK … Code.Unauthenticated). */
const CODES = Object.keys(Code).length;

/** Calls in flight for one service. */
class ServiceSeries {
  inFlight = 0;
}

/**
 * The per-call state of one service/method. Counts are plain numbers, handed to prom-client when the
 * registry is scraped: a prom-client `inc()` hashes its labels on every call (~0.5–0.8 µs measured here),
 * an array slot increment does not. Durations go straight to a cached histogram child.
 */
export class MethodSeries implements DurationSeries {
  /** Finished calls by status code number, and how many of them prom-client has been given. */
  readonly counts: number[] = new Array<number>(CODES).fill(0);
  readonly reported: number[] = new Array<number>(CODES).fill(0);
  readonly bucketCounts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly service: string,
    readonly method: string,
    readonly owner: ServiceSeries,
    readonly duration: DurationMetric,
  ) {
    this.bucketCounts = new Float64Array(duration.buckets.length + 1);
  }

  /** Counts one call as started. */
  start(): void {
    this.owner.inFlight++;
  }

  /** Counts one call as finished with `code`, taking `started` (a `performance.now()` reading). */
  finish(code: number, started: number): void {
    this.owner.inFlight--;
    // Codes come from Code (RpcError.fromWire maps unknown numbers to Unknown); guard anyway.
    this.counts[code < CODES ? code : Code.Unknown]! += 1;
    const seconds = (performance.now() - started) / 1000;
    this.bucketCounts[this.duration.bucketOf(seconds)]! += 1;
    this.sum += seconds;
    this.count++;
  }
}

/**
 * The metrics of one side (server or client) of calls: a request counter by code, a duration histogram and
 * an in-flight gauge. Label values come from registered services and methods, so their number is bounded.
 * Several instances may share a registry; each scrape reads all of them.
 */
export class CallMetrics {
  readonly #registry: Registry;
  readonly #duration: DurationMetric;
  readonly #services = new Map<string, ServiceSeries>();
  readonly #byService = new Map<string, Map<string, MethodSeries>>();

  constructor(registry: Registry, prefix: string, side: 'server' | 'client', buckets: readonly number[]) {
    checkBuckets(buckets);
    this.#registry = registry;
    const what = side === 'server' ? 'calls handled by this server' : 'calls made by this client';
    const requestsName = `${prefix}${side}_requests_total`;
    const inFlightName = `${prefix}${side}_in_flight`;
    const requestSources = sourcesOf<CallMetrics>(registry, requestsName);
    const inFlightSources = sourcesOf<CallMetrics>(registry, inFlightName);
    counterIn(
      registry,
      requestsName,
      `Finished ${what}, by status code.`,
      ['service', 'method', 'code'],
      function (this: Counter<'service' | 'method' | 'code'>) {
        for (const source of requestSources.keys()) (source as CallMetrics).#report(this);
      },
    );
    gaugeIn(registry, inFlightName, `Unfinished ${what}.`, ['service'], function (this: Gauge<'service'>) {
      const totals = new Map<string, number>();
      for (const source of inFlightSources.keys()) {
        for (const [service, series] of (source as CallMetrics).#services) {
          totals.set(service, (totals.get(service) ?? 0) + series.inFlight);
        }
      }
      for (const [service, value] of totals) this.set({ service }, value);
    });
    const durationName = `${prefix}${side}_request_duration_seconds`;
    const durationSources = sourcesOf<() => Iterable<DurationSeries>>(registry, durationName);
    this.#duration = durationMetricIn(
      registry,
      durationName,
      `Duration of ${what}, in seconds.`,
      buckets,
      durationSources,
    );
    durationSources.set(this, () => this.#allSeries());
    requestSources.set(this, this);
    inFlightSources.set(this, this);
  }

  /** The registry these metrics live in. */
  get registry(): Registry {
    return this.#registry;
  }

  /** The series of `service`/`method`, created on first use. */
  series(service: string, method: string): MethodSeries {
    let methods = this.#byService.get(service);
    if (methods === undefined) {
      methods = new Map();
      this.#byService.set(service, methods);
    }
    let series = methods.get(method);
    if (series === undefined) {
      let owner = this.#services.get(service);
      if (owner === undefined) {
        owner = new ServiceSeries();
        this.#services.set(service, owner);
      }
      series = new MethodSeries(service, method, owner, this.#duration);
      methods.set(method, series);
    }
    return series;
  }

  *#allSeries(): Iterable<MethodSeries> {
    for (const methods of this.#byService.values()) yield* methods.values();
  }

  /** Hands prom-client the calls counted since the last scrape. */
  #report(counter: Counter<'service' | 'method' | 'code'>): void {
    for (const methods of this.#byService.values()) {
      for (const series of methods.values()) {
        const { counts, reported } = series;
        for (let code = 0; code < CODES; code++) {
          const count = counts[code]!;
          const delta = count - reported[code]!;
          if (delta === 0) continue;
          counter.inc({ service: series.service, method: series.method, code: codeName(code) }, delta);
          reported[code] = count;
        }
      }
    }
  }
}

/**
 * Histogram bounds must be finite and strictly increasing: others would give a histogram whose cumulative
 * counts do not rise with `le` (histogram_quantile rejects it), or a second `+Inf` bucket.
 */
function checkBuckets(buckets: readonly number[]): void {
  let previous = Number.NEGATIVE_INFINITY;
  for (const bound of buckets) {
    if (!(Number.isFinite(bound) && bound > previous)) {
      throw new RangeError(`metrics: buckets must be finite and increasing, got [${buckets.join(', ')}]`);
    }
    previous = bound;
  }
}
