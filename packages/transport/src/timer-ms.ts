import type { ConnectionOptions } from './connection.js';
import { sizeOption } from './size-option.js';

/** The longest delay Node's timers take; a longer one fires after 1 ms (with a TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A timeout or interval option in ms: `fallback` when undefined, 0 for "off" (0 or `Infinity`), else the
 * value capped at {@link MAX_TIMER_MS} (~24.8 days, which is "never" for a connection). A negative or NaN
 * value is a mistake to report, not a timer to guess: it throws.
 *
 * @throws TypeError when the value is not a number ≥ 0.
 */
export function timerMs(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0))
    throw new TypeError(`${name} must be a number of ms ≥ 0 (0 or Infinity: off), got ${String(value)}`);
  if (value === Number.POSITIVE_INFINITY) return 0;
  return Math.min(value, MAX_TIMER_MS);
}

/**
 * Checks the options of a connection as `createConnection` will: the timers (`heartbeatIntervalMs`,
 * `readTimeoutMs`, `writeTimeoutMs`) and the sizes (`maxPayload`, `maxMetadata`, `maxQueuedBytes`,
 * `maxBatchFrames`, `maxBatchBytes`). Call it where a mistake can still be reported (a server's
 * constructor), since connections are made inside socket events.
 *
 * @throws TypeError when one is not a number ≥ 0.
 */
export function checkConnectionOptions(options: ConnectionOptions): void {
  timerMs('heartbeatIntervalMs', options.heartbeatIntervalMs, 0);
  timerMs('readTimeoutMs', options.readTimeoutMs, 0);
  timerMs('writeTimeoutMs', options.writeTimeoutMs, 0);
  sizeOption('maxPayload', options.maxPayload, 0);
  sizeOption('maxMetadata', options.maxMetadata, 0);
  sizeOption('maxQueuedBytes', options.maxQueuedBytes, 0);
  sizeOption('maxBatchFrames', options.maxBatchFrames, 0);
  sizeOption('maxBatchBytes', options.maxBatchBytes, 0);
}
