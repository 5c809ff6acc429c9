import { afterEach } from 'vitest';

/** Something a test started and must stop: a listener, a client, a child process. */
export type Cleanup = () => unknown;

/** Clean-ups registered while a test runs, run last first. */
export interface Cleanups {
  /** Registers clean-ups; they run in reverse order of registration. */
  push(...fns: Cleanup[]): void;
  /**
   * Runs every registered clean-up now, last first, awaiting each, and empties the list. Throws what the
   * first failing clean-up throws; the ones after it are dropped (as the per-file copies did).
   */
  run(): Promise<void>;
}

/**
 * A list of clean-ups that runs when the caller says so; see {@link useCleanups} for the usual case.
 *
 * @example
 * const cleanups = createCleanups();
 * cleanups.push(() => server.close());
 * await cleanups.run();
 */
export function createCleanups(): Cleanups {
  const list: Cleanup[] = [];
  return {
    push: (...fns) => {
      list.push(...fns);
    },
    async run() {
      for (const c of list.splice(0).reverse()) await c();
    },
  };
}

/**
 * Clean-ups run after each test of the calling file: call it once at the top level of a test file.
 *
 * @example
 * const cleanups = useCleanups();
 * it('serves', async () => {
 *   const listener = await listen({ onSocket: () => {} });
 *   cleanups.push(() => listener.close());
 * });
 */
export function useCleanups(): Cleanups {
  const cleanups = createCleanups();
  afterEach(() => cleanups.run());
  return cleanups;
}

/** Bounds the polling loop in count as well as in time (a timer that fires early cannot make it spin). */
const MAX_POLLS = 1_000_000;
const POLL_INTERVAL_MS = 5;

/**
 * Polls `condition` (sync or async) every 5 ms until it holds and returns the ms it took.
 * Throws `timed out after <timeoutMs> ms waiting for <what>` once `timeoutMs` (default 3,000) has passed.
 *
 * @example
 * await waitFor(() => frames.length === 1, 2_000, 'the reply');
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 3_000,
  what = 'condition',
): Promise<number> {
  const started = Date.now();
  for (let poll = 0; poll < MAX_POLLS; poll++) {
    if (await condition()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) break;
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * The error `promise` rejects with, typed as `E`; rejects if it fulfils instead. Start it before what makes
 * the promise settle, so that a rejection is never unhandled.
 *
 * @example
 * const err = await rejection<RpcError>(client.call('S', 'boom', 1));
 */
export function rejection<E = unknown>(promise: Promise<unknown>): Promise<E> {
  return promise.then(
    (value) => {
      throw new Error(`expected a failure, got ${String(value)}`);
    },
    (error: unknown) => error as E,
  );
}
