import type { Limiter } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { abortError } from './abort-error.js';
import { assertCount } from './validate.js';

/** Options for {@link createBulkhead}. */
export interface BulkheadOptions {
  /** Calls running at the same time. Default 100. */
  readonly maxConcurrent?: number;
  /** Calls waiting for a slot; beyond it calls are refused at once. Default 0 (never wait). */
  readonly maxQueue?: number;
}

/** A concurrency limit: the `Limiter` contract plus `run` and its counters. */
export interface Bulkhead extends Limiter {
  /**
   * Takes a slot: the release function when one is free, a promise of it when the call has to wait.
   * Call the release function exactly once; it is one shared function, so the fast path allocates nothing.
   */
  acquire(signal?: AbortSignal): (() => void) | Promise<() => void>;
  /** Runs `fn` in a slot and releases the slot when `fn` settles. Rejects like `acquire`. */
  run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Calls holding a slot. */
  readonly active: number;
  /** Calls waiting for a slot. */
  readonly queued: number;
}

interface Waiter {
  resolve: (release: () => void) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  prev: Waiter | undefined;
  next: Waiter | undefined;
}

/**
 * Creates a bulkhead: at most `maxConcurrent` calls at once, at most `maxQueue` more waiting in FIFO
 * order, and the rest refused at once, so that one slow instance (or caller) cannot take every resource.
 *
 * Defaults: 100 concurrent, no queue — a refused call never reached the instance, so it is safe to retry
 * elsewhere at once (ResourceExhausted is retryable), which beats waiting behind a slow instance.
 *
 * @throws RpcError(ResourceExhausted) from `acquire` (synchronously) when every slot and the queue are full.
 * @throws RpcError(Cancelled) — or DeadlineExceeded for a `TimeoutError` reason, or the reason itself when
 *   it is an RpcError — when `signal` aborts while waiting (synchronously if it aborted before); the waiter
 *   leaves the queue.
 * @throws RpcError(InvalidArgument) from `createBulkhead` when an option is out of range.
 * @example
 * ```ts
 * const bulkhead = createBulkhead({ maxConcurrent: 10, maxQueue: 20 });
 * const value = await bulkhead.run(() => callSomething(), AbortSignal.timeout(1_000));
 * ```
 */
export function createBulkhead(options: BulkheadOptions = {}): Bulkhead {
  const maxConcurrent = options.maxConcurrent ?? 100;
  const maxQueue = options.maxQueue ?? 0;
  assertCount(maxConcurrent, 'maxConcurrent', 1);
  assertCount(maxQueue, 'maxQueue');
  return new QueueingBulkhead(maxConcurrent, maxQueue);
}

class QueueingBulkhead implements Bulkhead {
  active = 0;
  queued = 0;
  private head: Waiter | undefined;
  private tail: Waiter | undefined;
  /** The one release function every acquisition gets: it hands the slot to the next waiter, if any. */
  private readonly release = (): void => {
    const waiter = this.head;
    if (waiter === undefined) {
      if (this.active > 0) this.active--;
      return;
    }
    this.unlink(waiter);
    waiter.resolve(this.release);
  };

  constructor(
    private readonly maxConcurrent: number,
    private readonly maxQueue: number,
  ) {}

  acquire(signal?: AbortSignal): (() => void) | Promise<() => void> {
    if (this.active < this.maxConcurrent) {
      this.active++;
      return this.release;
    }
    // Before the queue check: a call its caller already gave up on is Cancelled, whatever the load.
    if (signal?.aborted) throw abortError(signal.reason);
    if (this.queued >= this.maxQueue) {
      throw new RpcError(
        Code.ResourceExhausted,
        `bulkhead full: ${this.active} calls running, ${this.queued} waiting`,
      );
    }
    return new Promise<() => void>((resolve, reject) => {
      const waiter: Waiter = { resolve, signal, onAbort: undefined, prev: this.tail, next: undefined };
      if (signal !== undefined) {
        waiter.onAbort = () => {
          this.unlink(waiter);
          reject(abortError(signal.reason));
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      if (this.tail === undefined) this.head = waiter;
      else this.tail.next = waiter;
      this.tail = waiter;
      this.queued++;
    });
  }

  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const slot = this.acquire(signal);
    const release = typeof slot === 'function' ? slot : await slot;
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private unlink(waiter: Waiter): void {
    if (waiter.prev === undefined) this.head = waiter.next;
    else waiter.prev.next = waiter.next;
    if (waiter.next === undefined) this.tail = waiter.prev;
    else waiter.next.prev = waiter.prev;
    waiter.prev = undefined;
    waiter.next = undefined;
    this.queued--;
    if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort);
  }
}
