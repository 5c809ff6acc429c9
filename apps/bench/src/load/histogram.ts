import * as hdr from 'hdr-histogram-js';
import type { LatencySummary } from './case-spec.js';

/** A latency recorder over hdr-histogram-js's pure-JS build; values go in as nanoseconds. */
export interface LatencyHistogram {
  /** Records one latency, ms (as `performance.now()` differences come). */
  recordMs(ms: number): void;
  summary(): LatencySummary;
  reset(): void;
}

// 1 ns to 100 s at 3 significant digits: every call latency we can see lands inside.
const HIGHEST_NS = 100_000_000_000;

const us = (ns: number): number => Math.round(ns / 100) / 10;

/**
 * Over hdr-histogram-js's JS build. A class, not an object of closures: the loops call `recordMs` on one
 * histogram in the warm-up and on another in the window, and with closures each is a different function to
 * V8, whose optimised call site then throws its code away as the window opens.
 */
class HdrLatencyHistogram implements LatencyHistogram {
  private readonly h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_NS,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });

  recordMs(ms: number): void {
    const ns = Math.round(ms * 1e6);
    this.h.recordValue(Math.min(Math.max(ns, 1), HIGHEST_NS));
  }

  summary(): LatencySummary {
    const h = this.h;
    const count = h.totalCount;
    if (count === 0) return { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
    // hdr reports the top of a percentile's bucket, which may lie above the largest value recorded.
    const max = h.maxValue;
    const at = (p: number): number => us(Math.min(h.getValueAtPercentile(p), max));
    return { count, p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), max: us(max), mean: us(h.mean) };
  }

  reset(): void {
    this.h.reset();
  }
}

/** Creates a {@link LatencyHistogram} (JS build, `useWebAssembly: false`: nothing to fetch or compile). */
export function createLatencyHistogram(): LatencyHistogram {
  return new HdrLatencyHistogram();
}
