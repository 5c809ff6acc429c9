/**
 * Two counters summed over a sliding time window of `buckets` equal buckets. Internal: the circuit breaker
 * counts calls and failures with it, the retry budget deposits and withdrawals.
 *
 * O(1) per `add` (a bucket is cleared when the window moves past it, totals are kept as running sums), no
 * allocation after construction, no timer: time moves only when the caller passes a later `now`. The
 * window covers the current bucket and the `buckets - 1` before it. A clock that goes backwards leaves
 * the window where it is.
 */
export class RollingWindow {
  totalA = 0;
  totalB = 0;
  private readonly a: Float64Array;
  private readonly b: Float64Array;
  private readonly bucketMs: number;
  private head = 0;
  private headStart: number;

  constructor(windowMs: number, buckets: number, now: number) {
    this.a = new Float64Array(buckets);
    this.b = new Float64Array(buckets);
    this.bucketMs = windowMs / buckets;
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
    if (elapsed < this.bucketMs) return;
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
