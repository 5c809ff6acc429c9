import type { Registry, RegistryWatch, ServiceInstance } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';

interface Entry {
  instances: readonly ServiceInstance[];
  ready: Promise<void>;
  watch: RegistryWatch | undefined;
  error: Error | undefined;
}

/**
 * Follows the instance lists of the services a client calls, one registry watch per service.
 * While the registry is unreachable the last known list stays in force (the registry keeps it).
 */
export class ServiceDirectory {
  private readonly registry: Registry;
  private readonly entries = new Map<string, Entry>();
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

  /** The current list; on first use starts the watch and waits for its first delivery, at most `timeoutMs`. */
  async instances(service: string, timeoutMs: number): Promise<readonly ServiceInstance[]> {
    let entry = this.entries.get(service);
    if (entry === undefined) entry = this.start(service);
    if (entry.instances === EMPTY_PENDING) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new RpcError(
                Code.Unavailable,
                `no instance list for '${service}' from the registry within ${timeoutMs} ms`,
              ),
            ),
          timeoutMs,
        );
      });
      try {
        await Promise.race([entry.ready, timeout]);
      } finally {
        clearTimeout(timer);
      }
    }
    return entry.instances === EMPTY_PENDING ? [] : entry.instances;
  }

  async close(): Promise<void> {
    const watches = [...this.entries.values()].map((e) => e.watch?.stop());
    this.entries.clear();
    await Promise.allSettled(watches);
  }

  private start(service: string): Entry {
    let markReady!: () => void;
    const entry: Entry = {
      instances: EMPTY_PENDING,
      ready: new Promise<void>((resolve) => {
        markReady = resolve;
      }),
      watch: undefined,
      error: undefined,
    };
    this.entries.set(service, entry);
    entry.watch = this.registry.watch(
      service,
      (list) => {
        const before = entry.instances === EMPTY_PENDING ? [] : entry.instances;
        const beforeIds = new Set(before.map((i) => i.id));
        const afterIds = new Set(list.map((i) => i.id));
        entry.instances = [...list];
        entry.error = undefined;
        this.onChange(
          service,
          list.filter((i) => !beforeIds.has(i.id)),
          before.filter((i) => !afterIds.has(i.id)),
        );
        markReady();
      },
      (error) => {
        // Keep serving from the last list; only a service that never got one sees the error.
        entry.error = entry.instances === EMPTY_PENDING ? error : undefined;
      },
    );
    return entry;
  }
}

const EMPTY_PENDING: readonly ServiceInstance[] = Object.freeze([]);
