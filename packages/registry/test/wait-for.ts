import type { ServiceInstance } from '@mini-rpc/protocol';

/**
 * Polls `condition` every 10 ms until it holds and returns the ms it took; throws after `timeoutMs`.
 * The only way tests here wait for something asynchronous to happen.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<number> {
  const started = Date.now();
  for (let attempt = 0; attempt < 100_000; attempt++) {
    if (await condition()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A valid instance of service `name` on 127.0.0.1. */
export function instance(name: string, id: string, port = 4000, metadata: Record<string, string> = {}) {
  return { id, name, host: '127.0.0.1', port, weight: 1, metadata } satisfies ServiceInstance;
}

/** The ids of a delivered list. */
export function ids(list: readonly ServiceInstance[] | undefined): string[] {
  return (list ?? []).map((i) => i.id);
}
