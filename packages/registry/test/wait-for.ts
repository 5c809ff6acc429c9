import type { ServiceInstance } from '@mini-rpc/protocol';

/** The only way tests here wait for something asynchronous to happen: bounded polling, returns the ms it took. */
export { waitFor } from '../../../tooling/testing/harness.js';

/** A valid instance of service `name` on 127.0.0.1. */
export function instance(name: string, id: string, port = 4000, metadata: Record<string, string> = {}) {
  return { id, name, host: '127.0.0.1', port, weight: 1, metadata } satisfies ServiceInstance;
}

/** The ids of a delivered list. */
export function ids(list: readonly ServiceInstance[] | undefined): string[] {
  return (list ?? []).map((i) => i.id);
}
