import { codeName, RpcError } from '@mini-rpc/protocol';

/** How a batch of calls went. */
export interface LoadResult {
  /** Calls started (less than asked for when the time limit stopped the run). */
  readonly started: number;
  readonly ok: number;
  readonly failed: number;
  /** Failures by code name, e.g. `{ Unavailable: 3 }`. */
  readonly errors: Record<string, number>;
  readonly elapsedMs: number;
}

/** Options of {@link runLoad}. */
export interface LoadOptions {
  /** Calls to make. */
  total: number;
  /** Calls in flight at once. Default 64. */
  concurrency?: number;
  /** No call starts after this long, ms. Default 15,000. */
  timeLimitMs?: number;
  /** Called after each settled call with its index, e.g. to kill an instance a third of the way in. */
  onSettled?: (done: number) => void;
}

/**
 * Makes `total` calls with `concurrency` in flight at once and counts how they ended. Bounded twice: by
 * the count, and by `timeLimitMs` after which no call starts.
 */
export async function runLoad(
  call: (i: number) => Promise<unknown>,
  options: LoadOptions,
): Promise<LoadResult> {
  const { total, concurrency = 64, timeLimitMs = 15_000, onSettled } = options;
  const t0 = performance.now();
  const stopAt = t0 + timeLimitMs;
  const errors: Record<string, number> = {};
  let next = 0;
  let ok = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (next < total && performance.now() < stopAt) {
      const i = next++;
      try {
        await call(i);
        ok++;
      } catch (err) {
        failed++;
        const name = err instanceof RpcError ? codeName(err.code) : 'Unknown';
        errors[name] = (errors[name] ?? 0) + 1;
      }
      onSettled?.(ok + failed);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return { started: next, ok, failed, errors, elapsedMs: performance.now() - t0 };
}

/** `0 failed` or `3 failed (Unavailable 2, DeadlineExceeded 1)`. */
export function failures(result: LoadResult): string {
  const parts = Object.entries(result.errors).map(([code, n]) => `${code} ${n}`);
  return parts.length === 0 ? `${result.failed} failed` : `${result.failed} failed (${parts.join(', ')})`;
}
