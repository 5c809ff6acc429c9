/**
 * Two counters summed over a sliding time window of `buckets` equal buckets. Internal: the circuit breaker
 * counts calls and failures with it, the retry budget deposits and withdrawals.
 *
 * O(1) per `add` (a bucket is cleared when the window moves past it, totals are kept as running sums), no
 * allocation after construction, no timer: time moves only when the caller passes a later `now`. The
 * window covers the current bucket and the `buckets - 1` before it. A clock that goes back by up to one
 * window leaves the window where it is (its counts then last at most that much longer); one that goes back
 * further re-anchors the current bucket at the new time, keeping the counts, so that they expire a window
 * later rather than when the clock has caught up again (an hour after an NTP step of an hour).
 */
export class RollingWindow {
  totalA = 0;
  totalB = 0;
  private readonly a: Float64Array;
  private readonly b: Float64Array;
  private readonly bucketMs: number;
  private readonly windowMs: number;
  private head = 0;
  private headStart: number;

  constructor(windowMs: number, buckets: number, now: number) {
    this.a = new Float64Array(buckets);
    this.b = new Float64Array(buckets);
    this.bucketMs = windowMs / buckets;
    this.windowMs = windowMs;
    this.headStart = now;
  }

  /** Adds to the counters of the bucket that holds `now`. */
  add(now: number, a: number, b: number): void {
    this.advance(now);
    this.a[this.head]! += a;
    this.b[this.head]! += b;
    this.totalA += a;
    this.totalB += b;
  }

  /** Moves the window to `now`, dropping the buckets that fell out of it. */
  advance(now: number): void {
    const elapsed = now - this.headStart;
    if (elapsed < this.bucketMs) {
      // Without this, nothing would expire until the clock caught up: the breaker's failure rate would
      // become a count over the hour, and a retry budget that spent its reserve would refuse every retry.
      if (elapsed < -this.windowMs) this.headStart = now;
      return;
    }
    const steps = Math.floor(elapsed / this.bucketMs);
    this.headStart += steps * this.bucketMs;
    const n = this.a.length;
    if (steps >= n) {
      this.clear();
      return;
    }
    for (let i = 0; i < steps; i++) {
      this.head = this.head + 1 === n ? 0 : this.head + 1;
      this.totalA -= this.a[this.head]!;
      this.totalB -= this.b[this.head]!;
      this.a[this.head] = 0;
      this.b[this.head] = 0;
    }
  }

  /** Forgets everything counted so far. */
  clear(): void {
    this.a.fill(0);
    this.b.fill(0);
    this.totalA = 0;
    this.totalB = 0;
  }
}
