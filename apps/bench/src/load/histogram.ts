import * as hdr from 'hdr-histogram-js';
import type { LatencySummary } from './case-spec.js';

/** A latency recorder: values are kept per call and become an HDR histogram when summarised. */
export interface LatencyHistogram {
  /** Records one latency, ms (as `performance.now()` differences come). */
  recordMs(ms: number): void;
  /** Percentiles of what was recorded; throws when more was recorded than the recorder had room for. */
  summary(): LatencySummary;
}

// 1 ns to 100 s at 3 significant digits: every call latency we can see lands inside.
const HIGHEST_NS = 100_000_000_000;

/** Room per ms of window: 4 million calls/s, over three times the most any stack reached here (~1.3 million). */
const MAX_CALLS_PER_MS = 4_000;

/** Room of the recorders that are never summarised (warm-up, after the window): they wrap around. */
const SCRATCH_CAPACITY = 1 << 16;

const us = (ns: number): number => Math.round(ns / 100) / 10;

/**
 * Latencies kept as they come, in a Float32Array (a store: a few ns per call), and put into an HDR
 * histogram (hdr-histogram-js's JS build) only when summarised, after the window. Recording straight into
 * the histogram cost ~100 ns per value, twice per call in the open loop (latency and send lag): 5 % of a
 * client core at 255,000 calls/s, taken from the generator and the stack it drives, and more of the bare
 * echo's client than of the others'. The capacity is a power of two and the index wraps: the warm-up's
 * recorders run as long as they must without growing, and a summary of a recorder that wrapped throws
 * instead of reporting the last `capacity` calls only. Float32 keeps 24 bits (about 7 digits): finer than
 * the histogram's 3 significant digits.
 *
 * A class, not an object of closures: the loops call `recordMs` on one recorder in the warm-up and on
 * another in the window, and with closures each is a different function to V8, whose optimised call site
 * then throws its code away as the window opens.
 */
class BufferedLatencyHistogram implements LatencyHistogram {
  private readonly values: Float32Array;
  private readonly mask: number;
  private n = 0;

  constructor(capacity: number) {
    this.values = new Float32Array(capacity);
    this.mask = capacity - 1;
  }

  recordMs(ms: number): void {
    this.values[this.n++ & this.mask] = ms;
  }

  summary(): LatencySummary {
    const count = this.n;
    if (count === 0) return { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
    if (count > this.values.length) {
      throw new RangeError(
        `${count} latencies recorded where there is room for ${this.values.length}: raise MAX_CALLS_PER_MS (histogram.ts)`,
      );
    }
    const h = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: HIGHEST_NS,
      numberOfSignificantValueDigits: 3,
      useWebAssembly: false,
    });
    for (const ms of this.values.subarray(0, count)) {
      const ns = Math.round(ms * 1e6);
      h.recordValue(Math.min(Math.max(ns, 1), HIGHEST_NS));
    }
    // hdr reports the top of a percentile's bucket, which may lie above the largest value recorded.
    const max = h.maxValue;
    const at = (p: number): number => us(Math.min(h.getValueAtPercentile(p), max));
    return { count, p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), max: us(max), mean: us(h.mean) };
  }
}

/** The smallest power of two that holds a window of `windowMs` at {@link MAX_CALLS_PER_MS}. */
export function windowCapacity(windowMs: number): number {
  let capacity = SCRATCH_CAPACITY;
  while (capacity < windowMs * MAX_CALLS_PER_MS) capacity *= 2;
  return capacity;
}

/**
 * Creates a {@link LatencyHistogram} with room for `capacity` values (a power of two; default: a scratch
 * recorder of 65,536 that wraps, for figures that are never summarised).
 */
export function createLatencyHistogram(capacity = SCRATCH_CAPACITY): LatencyHistogram {
  if (!(capacity > 0 && (capacity & (capacity - 1)) === 0)) {
    throw new RangeError(`capacity must be a power of two, got ${capacity}`);
  }
  return new BufferedLatencyHistogram(capacity);
}

/**
 * The three recorders of a loop, one per slot of {@link WindowRecorder.slot}: warm-up and after-window ones
 * are scratch (never summarised), the window's has room for the whole window.
 */
export function createSlotHistograms(
  windowMs: number,
): readonly [LatencyHistogram, LatencyHistogram, LatencyHistogram] {
  return [
    createLatencyHistogram(),
    createLatencyHistogram(windowCapacity(windowMs)),
    createLatencyHistogram(),
  ];
}
