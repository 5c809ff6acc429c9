import type { ClientOptions } from './client-options.js';
import type { PoolOptions } from './pool.js';
import { MAX_TIMER_MS } from './wait-list.js';

type Rule = (value: number) => boolean;

const positiveInteger: Rule = (v) => Number.isInteger(v) && v >= 1;
const nonNegativeInteger: Rule = (v) => Number.isInteger(v) && v >= 0;
/** Above zero; `Infinity` allowed ("never"). */
const positive: Rule = (v) => v > 0;
/** A delay a timer can wait: 0 … 2^31 − 1 ms. */
const timerMs: Rule = (v) => v >= 0 && v <= MAX_TIMER_MS;
const positiveTimerMs: Rule = (v) => v > 0 && v <= MAX_TIMER_MS;

/**
 * Throws TypeError when `options[key]` is given and breaks `rule`. A NaN, 0 or negative count would make a
 * pool that never opens a connection, churns them or never reconnects, and a timer given NaN, Infinity or
 * more than 2^31 − 1 ms fires after 1 ms: better a clear error at creation than a client that misbehaves.
 */
function check<T extends object>(
  where: string,
  options: T,
  key: keyof T & string,
  rule: Rule,
  what: string,
): void {
  const value: unknown = options[key];
  if (value === undefined) return;
  if (typeof value !== 'number' || !rule(value))
    throw new TypeError(`${where}: ${key} must be ${what}, got ${String(value)}`);
}

/** Throws TypeError for a pool option out of its range (used by `createClient` and `new ConnectionPool`). */
export function checkPoolOptions(options: PoolOptions, where = 'ConnectionPool'): void {
  check(where, options, 'maxActive', positiveInteger, 'an integer ≥ 1');
  check(where, options, 'maxIdle', nonNegativeInteger, 'an integer ≥ 0');
  check(where, options, 'idleTimeoutMs', positive, 'a number of ms > 0 (Infinity: never)');
  check(where, options, 'callsPerConnection', (v) => v >= 1, 'a number ≥ 1');
  check(where, options, 'initialBackoffMs', timerMs, `a number of ms in 0…${MAX_TIMER_MS}`);
  check(where, options, 'maxBackoffMs', timerMs, `a number of ms in 0…${MAX_TIMER_MS}`);
}

/** Throws TypeError for a numeric client option out of its range, pool options included. */
export function checkClientOptions(options: ClientOptions): void {
  const where = 'createClient';
  check(where, options, 'timeoutMs', positive, 'a number of ms > 0 (Infinity: no deadline)');
  check(where, options, 'connectTimeoutMs', positiveTimerMs, `a number of ms in 1…${MAX_TIMER_MS}`);
  check(where, options, 'heartbeatIntervalMs', timerMs, `a number of ms in 0…${MAX_TIMER_MS} (0: off)`);
  check(where, options, 'readTimeoutMs', timerMs, `a number of ms in 0…${MAX_TIMER_MS} (0: off)`);
  if (options.pool !== undefined) checkPoolOptions(options.pool, `${where}: pool`);
}
