import type { ClientConnection } from './client-connection.js';

/** Something the sweep ends once its deadline (`Date.now()` clock) has passed: `expire()` must forget it. */
export interface Expiring {
  readonly deadline: number;
  expire(): void;
}

/** How often pending calls are checked against their deadlines, ms: a deadline fires at most this late. */
export const SWEEP_INTERVAL_MS = 10;

/**
 * Expires calls whose deadline passed, for all connections of a client, with ONE interval timer that runs
 * only while calls are pending. A per-call `setTimeout` + `clearTimeout` measured ~0.3–1 µs here, a large
 * share of a call at 100k+ calls/s (issue #7); scanning the pending maps every 10 ms costs a few ns per
 * pending call instead.
 */
export class DeadlineSweep {
  private timer: NodeJS.Timeout | undefined;
  private readonly connections: () => Iterable<ClientConnection>;
  /** Waits of the client's own beside the connections' pending calls (calls inside the interceptors). */
  private readonly others: () => Iterable<Expiring>;

  constructor(connections: () => Iterable<ClientConnection>, others: () => Iterable<Expiring> = () => []) {
    this.connections = connections;
    this.others = others;
  }

  /** Makes sure the sweep runs; cheap when it already does. */
  arm(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private sweep(): void {
    const now = Date.now();
    let pending = 0;
    const check = (call: Expiring): void => {
      if (call.deadline <= now) call.expire();
      else pending++;
    };
    for (const conn of this.connections()) conn.pending.forEach(check);
    for (const other of this.others()) check(other);
    if (pending === 0) this.stop();
  }
}
