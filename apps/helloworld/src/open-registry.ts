import type { Registry } from '@mini-rpc/protocol';
import { createEtcdRegistry, createMemoryRegistry } from '@mini-rpc/registry';

/** A registry and how to name it in the output. */
export interface OpenedRegistry {
  readonly registry: Registry;
  readonly label: string;
}

/**
 * The registry the instances announce themselves in: in-process memory (the default, nothing to set up),
 * or etcd at `url` (`etcd://127.0.0.1:2379`), with a short lease so a crashed instance leaves quickly.
 */
export function openRegistry(url: string): OpenedRegistry {
  if (url === 'memory') return { registry: createMemoryRegistry(), label: 'memory (in this process)' };
  return { registry: createEtcdRegistry({ endpoints: url, ttlSeconds: 5 }), label: `etcd at ${url}` };
}
