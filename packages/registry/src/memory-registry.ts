import type { Registry, RegistryWatch, ServiceInstance, WatchListener } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { deliver } from './deliver.js';
import { byId, checkServiceName, instanceId, toServiceInstance } from './service-instance.js';

interface Entry {
  readonly instance: ServiceInstance;
  readonly json: string;
}

interface MemoryWatch extends RegistryWatch {
  readonly name: string;
  /** Queues one delivery of the current list (coalesced per microtask). */
  changed(): void;
  /** Ends the watch without waiting. */
  end(): void;
}

class MemoryRegistry implements Registry {
  /** id → entry; ids are unique across services. */
  private readonly entries = new Map<string, Entry>();
  private readonly watches = new Set<MemoryWatch>();
  private closed = false;

  async register(instance: ServiceInstance): Promise<void> {
    this.assertOpen();
    const stored = toServiceInstance(instance);
    const json = JSON.stringify(stored);
    const previous = this.entries.get(stored.id);
    if (previous?.json === json) return;
    this.entries.set(stored.id, { instance: stored, json });
    if (previous && previous.instance.name !== stored.name) this.changed(previous.instance.name);
    this.changed(stored.name);
  }

  async deregister(instance: ServiceInstance): Promise<void> {
    const id = instanceId(instance);
    const previous = this.entries.get(id);
    if (!previous) return;
    this.entries.delete(id);
    this.changed(previous.instance.name);
  }

  async discover(name: string): Promise<ServiceInstance[]> {
    this.assertOpen();
    return this.list(checkServiceName(name));
  }

  watch(name: string, listener: WatchListener, onError?: (error: Error) => void): RegistryWatch {
    this.assertOpen();
    checkServiceName(name);
    let stopped = false;
    let queued = false;
    const flush = (): void => {
      queued = false;
      if (!stopped) deliver(listener, this.list(name), onError);
    };
    const watch: MemoryWatch = {
      name,
      changed() {
        if (stopped || queued) return;
        queued = true;
        queueMicrotask(flush);
      },
      end: () => {
        stopped = true;
        this.watches.delete(watch);
      },
      async stop() {
        watch.end();
      },
    };
    this.watches.add(watch);
    watch.changed();
    return watch;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const watch of [...this.watches]) watch.end();
    this.entries.clear();
  }

  private list(name: string): ServiceInstance[] {
    const out: ServiceInstance[] = [];
    for (const { instance } of this.entries.values()) if (instance.name === name) out.push(instance);
    return out.sort(byId);
  }

  private changed(name: string): void {
    for (const watch of this.watches) if (watch.name === name) watch.changed();
  }

  private assertOpen(): void {
    if (this.closed) throw new RpcError(Code.FailedPrecondition, 'registry is closed');
  }
}

/**
 * Creates an in-process {@link Registry}: for tests, single-process setups, and as a model of the contract.
 *
 * Deliveries to watchers are coalesced per microtask: the first comes right after `watch()` returns, and
 * by the time `register()`/`deregister()` resolves, every watcher of that service has seen the new list.
 * Lists are ordered by id. After `close()`, `register`, `discover` and `watch` throw
 * `RpcError(FailedPrecondition)`; invalid instances (`register`), service names (`discover`, `watch`) and
 * a `deregister` without an id are `RpcError(InvalidArgument)`, as in the etcd registry.
 *
 * @example
 * ```ts
 * const registry = createMemoryRegistry();
 * const watch = registry.watch('Arith', (list) => console.log(list.map((i) => i.id)));
 * await registry.register({ id: 'a1', name: 'Arith', host: '127.0.0.1', port: 4000, weight: 1, metadata: {} });
 * await watch.stop();
 * ```
 */
export function createMemoryRegistry(): Registry {
  return new MemoryRegistry();
}
