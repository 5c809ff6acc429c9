import type { ServiceInstance } from '@mini-rpc/protocol';
import type { RegistryLogger } from '../src/index.js';

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

/**
 * What a watch and a registry's logger were told: `lists` delivered, `errors` given to `onError`, the
 * logger's `messages`; `last()` is the ids of the latest list, joined.
 */
export function watchRecorder() {
  const lists: (readonly ServiceInstance[])[] = [];
  const errors: Error[] = [];
  const messages: string[] = [];
  const logger: RegistryLogger = {
    info: (_details, message) => messages.push(message),
    warn: (_details, message) => messages.push(message),
  };
  return {
    lists,
    errors,
    messages,
    logger,
    last: () => ids(lists.at(-1)).join(),
    listener: (list: readonly ServiceInstance[]) => lists.push(list),
    onError: (error: Error) => errors.push(error),
  };
}
