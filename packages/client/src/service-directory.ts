import type { Registry, RegistryWatch, ServiceInstance } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { markUnprocessed } from './unprocessed.js';
import { WaitList } from './wait-list.js';

interface Entry {
  instances: readonly ServiceInstance[];
  /** Calls waiting for the first list. */
  readonly waiters: WaitList<void>;
  watch: RegistryWatch | undefined;
}

/**
 * Follows the instance lists of the services a client calls, one registry watch per service.
 * While the registry is unreachable the last known list stays in force (the registry keeps it).
 */
export class ServiceDirectory {
  private readonly registry: Registry;
  private readonly entries = new Map<string, Entry>();
  private closed = false;
  private readonly onChange: (service: string, added: ServiceInstance[], removed: ServiceInstance[]) => void;

  constructor(
    registry: Registry,
    onChange: (service: string, added: ServiceInstance[], removed: ServiceInstance[]) => void,
  ) {
    this.registry = registry;
    this.onChange = onChange;
  }

  /** The current list, if the first one has arrived (the hot path: no promise). */
  peek(service: string): readonly ServiceInstance[] | undefined {
    const e = this.entries.get(service);
    return e === undefined || e.instances === EMPTY_PENDING ? undefined : e.instances;
  }

  /**
   * The current list; on first use starts the watch and waits for its first delivery, until `deadline`
   * (`Date.now()` clock; DeadlineExceeded) or until `signal` aborts (Cancelled). A registry error before
   * the first list fails the calls waiting then with Unavailable (the error as cause); the watch goes on
   * retrying for later calls. Rejects with Unavailable once closed.
   */
  async instances(
    service: string,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<readonly ServiceInstance[]> {
    if (this.closed) throw new RpcError(Code.Unavailable, 'client closed');
    const entry = this.entries.get(service) ?? this.start(service);
    if (entry.instances === EMPTY_PENDING) await entry.waiters.wait(deadline, signal);
    return entry.instances === EMPTY_PENDING ? [] : entry.instances;
  }

  async close(): Promise<void> {
    this.closed = true;
    const watches: (Promise<void> | undefined)[] = [];
    for (const entry of this.entries.values()) {
      entry.waiters.reject(new RpcError(Code.Unavailable, 'client closed'));
      watches.push(entry.watch?.stop());
    }
    this.entries.clear();
    await Promise.allSettled(watches);
  }

  private start(service: string): Entry {
    const entry: Entry = {
      instances: EMPTY_PENDING,
      waiters: new WaitList(`the instance list of '${service}' from the registry`),
      watch: undefined,
    };
    this.entries.set(service, entry);
    try {
      entry.watch = this.watch(service, entry);
    } catch (err) {
      // A registry that refuses to watch (closed) fails this call; the next one asks again.
      this.entries.delete(service);
      throw markUnprocessed(RpcError.from(err, Code.Unavailable));
    }
    return entry;
  }

  private watch(service: string, entry: Entry): RegistryWatch {
    return this.registry.watch(
      service,
      (list) => {
        const before = entry.instances === EMPTY_PENDING ? [] : entry.instances;
        const beforeIds = new Set(before.map((i) => i.id));
        const afterIds = new Set(list.map((i) => i.id));
        entry.instances = [...list];
        entry.waiters.resolve();
        this.onChange(
          service,
          list.filter((i) => !beforeIds.has(i.id)),
          before.filter((i) => !afterIds.has(i.id)),
        );
      },
      (error) => {
        // Keep serving from the last list. Calls still waiting for a first one learn now rather than at
        // their deadline; `onError` is informational (the watch keeps retrying), so later calls wait again.
        // Not marked unprocessed: a failover attempt would only wait for the same registry again.
        if (entry.instances !== EMPTY_PENDING) return;
        entry.waiters.reject(
          new RpcError(Code.Unavailable, `registry watch of '${service}' failed: ${error.message}`, {
            cause: error,
          }),
        );
      },
    );
  }
}

const EMPTY_PENDING: readonly ServiceInstance[] = Object.freeze([]);
