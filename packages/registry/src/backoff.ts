/** Exponential backoff with full jitter, used by the etcd registry's re-register and re-watch loops. */
export interface Backoff {
  /** The next delay in ms: random in [base/2, base], base doubling from `initialMs` up to `maxMs`. */
  next(): number;
  /** Starts again from `initialMs` (after a success). */
  reset(): void;
}

/** Creates a {@link Backoff}; `initialMs` and `maxMs` are milliseconds. */
export function createBackoff(initialMs: number, maxMs: number): Backoff {
  let base = initialMs;
  return {
    next() {
      const delay = base / 2 + Math.random() * (base / 2);
      base = Math.min(maxMs, base * 2);
      return Math.round(delay);
    },
    reset() {
      base = initialMs;
    },
  };
}
