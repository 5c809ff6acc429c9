import { Code, RpcError } from '@mini-rpc/protocol';
import { markUnprocessed } from './unprocessed.js';

/** The longest delay `setTimeout` honours, ms: Node fires a longer (or infinite) one after 1 ms. */
export const MAX_TIMER_MS = 0x7fff_ffff;

/** The error of a call whose `signal` aborted while it waited: an RpcError reason as is, else Cancelled. */
export function abortError(signal: AbortSignal): RpcError {
  const reason: unknown = signal.reason;
  if (reason instanceof RpcError) return reason;
  return markUnprocessed(RpcError.from(reason ?? new Error('aborted'), Code.Cancelled));
}

/**
 * Runs `onDeadline` at `deadline` (`Date.now()` clock), however far away: a delay above
 * {@link MAX_TIMER_MS} is waited in steps. Returns the function that cancels it.
 *
 * Never calls back before it returns, even for a deadline already past (then on the next timer turn): a
 * caller's handlers may not exist yet. On a busy host the clock can pass a 1 ms deadline between the
 * caller's `Date.now() + ms` and the check here, and the retry backoff's abort handler was then read before
 * its `const` (a ReferenceError failed the call; CI saw it).
 */
export function atDeadline(deadline: number, onDeadline: () => void): () => void {
  if (!Number.isFinite(deadline)) return () => {};
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    const ms = deadline - Date.now();
    if (ms <= 0) {
      timer = undefined;
      onDeadline();
    } else timer = setTimeout(arm, Math.min(ms, MAX_TIMER_MS));
  };
  timer = setTimeout(arm, Math.min(Math.max(deadline - Date.now(), 0), MAX_TIMER_MS));
  return () => clearTimeout(timer);
}

class Waiter<T> {
  stopTimer: (() => void) | undefined = undefined;

  constructor(
    readonly resolve: (value: T) => void,
    readonly reject: (error: RpcError) => void,
    readonly signal: AbortSignal | undefined,
    private readonly list: WaitList<T>,
  ) {}

  /** The waiter's signal aborted. */
  handleEvent(): void {
    if (this.signal !== undefined) this.list.leave(this, abortError(this.signal));
  }
}

/**
 * Calls waiting for one shared outcome (a connect, a service's first instance list). Each leaves on its own
 * at its deadline (DeadlineExceeded) or when its signal aborts (Cancelled); the others keep waiting, and
 * the shared work is not cancelled by one of them (pool.test.ts, "one caller aborting…").
 *
 * Only calls that actually wait get a timer and an abort listener: the hot path never comes here (issue #7).
 */
export class WaitList<T> {
  private readonly waiters = new Set<Waiter<T>>();
  /** What is awaited, for the DeadlineExceeded message: `'a connection to 10.0.0.7:4000'`. */
  private readonly what: string;

  constructor(what: string) {
    this.what = what;
  }

  get size(): number {
    return this.waiters.size;
  }

  /** Waits for the outcome; rejects at once when the deadline has passed or the signal has aborted. */
  wait(deadline: number | undefined, signal: AbortSignal | undefined): Promise<T> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (deadline !== undefined && deadline <= Date.now()) return Promise.reject(this.expired());
    return new Promise<T>((resolve, reject) => {
      const waiter = new Waiter(resolve, reject, signal, this);
      this.waiters.add(waiter);
      signal?.addEventListener('abort', waiter);
      if (deadline !== undefined && Number.isFinite(deadline)) {
        waiter.stopTimer = atDeadline(deadline, () => this.leave(waiter, this.expired()));
      }
    });
  }

  /** Settles every waiter with `value`. */
  resolve(value: T): void {
    for (const waiter of this.takeAll()) waiter.resolve(value);
  }

  /** Fails every waiter with `error`. */
  reject(error: RpcError): void {
    for (const waiter of this.takeAll()) waiter.reject(error);
  }

  /** One waiter stops waiting, with `error`. */
  leave(waiter: Waiter<T>, error: RpcError): void {
    if (!this.waiters.delete(waiter)) return;
    this.stop(waiter);
    waiter.reject(error);
  }

  private takeAll(): Waiter<T>[] {
    const all = [...this.waiters];
    this.waiters.clear();
    for (const waiter of all) this.stop(waiter);
    return all;
  }

  private stop(waiter: Waiter<T>): void {
    waiter.stopTimer?.();
    waiter.signal?.removeEventListener('abort', waiter);
  }

  private expired(): RpcError {
    return markUnprocessed(new RpcError(Code.DeadlineExceeded, `deadline exceeded waiting for ${this.what}`));
  }
}
