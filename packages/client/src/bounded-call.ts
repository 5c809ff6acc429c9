import { Code, RpcError } from '@mini-rpc/protocol';
import type { Expiring } from './deadline-sweep.js';

/**
 * The caller's side of a call that runs through interceptors. The client's deadline, the caller's signal and
 * `close()` end every wait of the client's own, but an interceptor may wait on something of its own that
 * never ends (a token refresh that hangs) or never call `next`: this settles the call at the deadline (by the
 * client's deadline sweep, at most one sweep interval late), at the abort and at `close()` whatever the
 * interceptors do, so no call waits forever.
 *
 * What the chain answers by the end of that turn still wins: the end is settled in the check phase
 * (`setImmediate`), after the error the client's own wait gave at the same moment has gone through the
 * interceptors' microtasks, where one may turn it into a fallback or a more precise error. A later answer of
 * the chain is dropped (and a later rejection handled); a `next` called after the end sends nothing (the
 * terminal step checks the deadline, the signal and the client's state first).
 */
export class BoundedCall implements Expiring {
  readonly promise: Promise<unknown>;
  readonly deadline: number;
  private resolve!: (value: unknown) => void;
  private reject!: (error: unknown) => void;
  private done = false;
  private ending: NodeJS.Immediate | undefined;
  private readonly signal: AbortSignal | undefined;
  private readonly owner: Set<BoundedCall>;

  constructor(
    chain: Promise<unknown>,
    deadline: number | undefined,
    signal: AbortSignal | undefined,
    owner: Set<BoundedCall>,
  ) {
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.deadline = deadline ?? Number.POSITIVE_INFINITY;
    this.signal = signal;
    this.owner = owner;
    chain.then(
      (value) => {
        if (this.finish()) this.resolve(value);
      },
      (error: unknown) => {
        if (this.finish()) this.reject(error);
      },
    );
    owner.add(this);
    if (signal !== undefined) {
      if (signal.aborted) this.handleEvent();
      else signal.addEventListener('abort', this);
    }
  }

  /** The deadline passed (called by the client's deadline sweep). */
  expire(): void {
    this.end(new RpcError(Code.DeadlineExceeded, 'deadline exceeded before the interceptors answered'));
  }

  /** The caller's signal aborted. */
  handleEvent(): void {
    this.end(RpcError.from(this.signal?.reason ?? new Error('aborted'), Code.Cancelled));
  }

  /** Ends the call with `error` in the check phase of this turn, unless the chain answers first. */
  end(error: RpcError): void {
    if (this.done || this.ending !== undefined) return;
    // Out of the sweep's reach from now on: it must not call expire() again every interval.
    this.owner.delete(this);
    this.ending = setImmediate(() => {
      if (this.finish()) this.reject(error);
    });
  }

  /** Marks the call settled and lets go of what watches it; false when it already was. */
  private finish(): boolean {
    if (this.done) return false;
    this.done = true;
    this.owner.delete(this);
    if (this.ending !== undefined) clearImmediate(this.ending);
    this.signal?.removeEventListener('abort', this);
    return true;
  }
}
