import type { RpcError } from '@mini-rpc/protocol';
import type { Cleanups } from '../../../tooling/testing/harness.js';
import { rejection } from '../../../tooling/testing/harness.js';
import type { Client, ClientOptions } from '../src/index.js';
import { createClient } from '../src/index.js';

/** No heartbeats and no read timeout: a test's connections stay as the test leaves them. */
export const QUIET_CLIENT: Partial<ClientOptions> = { heartbeatIntervalMs: 0, readTimeoutMs: 0 };

/** Makes clients with `defaults` under each call's options; each is closed when the test ends. */
export function clientMaker(
  cleanups: Cleanups,
  defaults: Partial<ClientOptions> = QUIET_CLIENT,
): (options: ClientOptions) => Client {
  return (options) => {
    const c = createClient({ ...defaults, ...options } as ClientOptions);
    cleanups.push(() => c.close());
    return c;
  };
}

/** The RpcError a call rejects with (fails the test if it resolves). */
export const failure = (p: Promise<unknown>): Promise<RpcError> => rejection<RpcError>(p);

/** Process warnings named `name` emitted from now until the test ends. */
export function processWarnings(cleanups: Cleanups, name: string): Error[] {
  const seen: Error[] = [];
  const onWarning = (w: Error): void => {
    if (w.name === name) seen.push(w);
  };
  process.on('warning', onWarning);
  cleanups.push(() => process.off('warning', onWarning));
  return seen;
}
