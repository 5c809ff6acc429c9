/**
 * One token bucket with lazy refill: the tokens earned since the last visit are added when the bucket is
 * next used, so an idle bucket costs nothing and no timer runs.
 */
export class TokenBucket {
  tokens: number;
  /** When the bucket was last refilled, on the limiter's clock (ms). */
  last: number;

  constructor(burst: number, now: number) {
    this.tokens = burst;
    this.last = now;
  }

  /**
   * Takes one token. Returns 0 when one was available, otherwise the milliseconds until one will be
   * (always ≥ 1).
   */
  take(now: number, perMs: number, burst: number): number {
    const elapsed = now - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(burst, this.tokens + elapsed * perMs);
      this.last = now;
    } else if (elapsed < 0) {
      // A clock that went backwards earns nothing, but refill restarts from the new reading: keeping the old
      // one would freeze the bucket until the clock caught up (an hour after an NTP step) and make the retry
      // hint a lie.
      this.last = now;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    // The tiny epsilon absorbs floating-point noise (1.0000000000000009 ms must read as 1, not 2).
    return Math.max(1, Math.ceil((1 - this.tokens) / perMs - 1e-9));
  }

  /** True when the bucket would be full at `now`, i.e. forgetting it changes nothing. */
  isFull(now: number, perMs: number, burst: number): boolean {
    return this.tokens + (now - this.last) * perMs >= burst;
  }
}

/**
 * Buckets by key with bounded memory. When a new key would exceed `maxKeys`, buckets that have refilled to
 * full are dropped (forgetting them changes nothing); if that frees too little, the least recently used
 * tenth goes too (those callers start again with a full bucket). Sweeps run only on inserts at the bound,
 * and each frees at least a tenth, so their cost is amortised to O(log n) per new key.
 */
export class BucketStore {
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly maxKeys: number,
    private readonly perMs: number,
    private readonly burst: number,
  ) {}

  get size(): number {
    return this.#buckets.size;
  }

  /** The bucket of `key`, created full on first use. */
  get(key: string, now: number): TokenBucket {
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.maxKeys) this.#sweep(now);
      bucket = new TokenBucket(this.burst, now);
      this.#buckets.set(key, bucket);
    }
    return bucket;
  }

  #sweep(now: number): void {
    const buckets = this.#buckets;
    for (const [key, bucket] of buckets) {
      if (bucket.isFull(now, this.perMs, this.burst)) buckets.delete(key);
    }
    const target = Math.floor(this.maxKeys * 0.9);
    if (buckets.size <= target) return;
    const byAge = [...buckets].sort((a, b) => a[1].last - b[1].last);
    for (let i = 0; i < byAge.length && buckets.size > target; i++) buckets.delete(byAge[i]![0]);
  }
}
