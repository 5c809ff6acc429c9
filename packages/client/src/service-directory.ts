import type { Registry, RegistryWatch, ServiceInstance } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { reportWarning } from './client-helpers.js';
import { addressProblem } from './parse-address.js';
import { markUnprocessed } from './unprocessed.js';
import { WaitList } from './wait-list.js';

interface Entry {
  instances: readonly ServiceInstance[];
  /** Why entries of the last list were left out (invalid address, not an instance), one line each. */
  leftOut: readonly string[];
  /** Calls waiting for the first list. */
  readonly waiters: WaitList<void>;
  watch: RegistryWatch | undefined;
  /** Settles once a `watch()` that returned a promise has settled (plain JS, `async watch`). */
  starting: Promise<void> | undefined;
  /** While `registry.watch()` runs: an error it reports then is the first call's, which is not waiting yet. */
  watching: boolean;
  startError: RpcError | undefined;
}

/** Told the instances that joined and left a service's list; an instance whose address changed does both. */
export type InstanceChange = (service: string, added: ServiceInstance[], removed: ServiceInstance[]) => void;

/**
 * Follows the instance lists of the services a client calls, one registry watch per service.
 * While the registry is unreachable the last known list stays in force (the registry keeps it).
 * Lists are cleaned before use: a repeated id counts once (its first entry), and an entry that is not an
 * instance with an id, a host and a port in 1…65535 is left out with a process warning.
 */
export class ServiceDirectory {
  private readonly registry: Registry;
  private readonly entries = new Map<string, Entry>();
  private closed = false;
  private readonly onChange: InstanceChange;

  constructor(registry: Registry, onChange: InstanceChange) {
    this.registry = registry;
    this.onChange = onChange;
  }

  /** The current list, if the first one has arrived (the hot path: no promise). */
  peek(service: string): readonly ServiceInstance[] | undefined {
    const e = this.entries.get(service);
    return e === undefined || e.instances === EMPTY_PENDING ? undefined : e.instances;
  }

  /** Why entries of the last list of `service` were left out (for the error of a call that found none). */
  leftOut(service: string): readonly string[] {
    return this.entries.get(service)?.leftOut ?? [];
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

  /**
   * Stops every watch. The calls waiting for a first list fail at once (synchronously); the promise
   * settles once every watch has stopped. A `stop()` that throws or rejects does not fail it.
   */
  close(): Promise<void> {
    this.closed = true;
    const stops: Promise<void>[] = [];
    for (const entry of this.entries.values()) {
      entry.waiters.reject(new RpcError(Code.Unavailable, 'client closed'));
      stops.push(
        entry.starting === undefined
          ? stopQuietly(entry.watch)
          : entry.starting.then(() => stopQuietly(entry.watch)),
      );
    }
    this.entries.clear();
    return Promise.all(stops).then(() => undefined);
  }

  private start(service: string): Entry {
    const entry: Entry = {
      instances: EMPTY_PENDING,
      leftOut: [],
      waiters: new WaitList(`the instance list of '${service}' from the registry`),
      watch: undefined,
      starting: undefined,
      watching: true,
      startError: undefined,
    };
    this.entries.set(service, entry);
    let watch: RegistryWatch | PromiseLike<RegistryWatch>;
    try {
      watch = this.watch(service, entry);
    } catch (err) {
      // A registry that refuses to watch (closed) fails this call; the next one asks again.
      this.entries.delete(service);
      throw markUnprocessed(RpcError.from(err, Code.Unavailable));
    } finally {
      entry.watching = false;
    }
    if (isThenable(watch)) this.settleAsyncWatch(service, entry, watch);
    else entry.watch = watch;
    // The watch reported an error before it returned (and before any list): the call that started it was
    // waiting then too, and learns now rather than at its deadline. The watch goes on for later calls.
    const startError = entry.startError;
    entry.startError = undefined;
    if (startError !== undefined && entry.instances === EMPTY_PENDING) throw startError;
    return entry;
  }

  /**
   * A `watch()` that returned a promise (against the contract, but easy to write in plain JS): its rejection
   * must not go unhandled (Node exits on one), and fails the calls waiting like a synchronous throw would.
   */
  private settleAsyncWatch(service: string, entry: Entry, watch: PromiseLike<RegistryWatch>): void {
    entry.starting = Promise.resolve(watch).then(
      (w) => {
        entry.watch = w;
      },
      (err: unknown) => {
        if (this.entries.get(service) === entry) this.entries.delete(service);
        entry.waiters.reject(markUnprocessed(RpcError.from(err, Code.Unavailable)));
      },
    );
  }

  private watch(service: string, entry: Entry): RegistryWatch | PromiseLike<RegistryWatch> {
    return this.registry.watch(
      service,
      (list) => {
        // "No listener call follows stop()" is the registry's promise; a late one must not reach the client.
        if (this.closed) return;
        this.receive(service, entry, list);
      },
      (error) => {
        // Keep serving from the last list. Calls still waiting for a first one learn now rather than at
        // their deadline; `onError` is informational (the watch keeps retrying), so later calls wait again.
        // Not marked unprocessed: a failover attempt would only wait for the same registry again.
        if (entry.instances !== EMPTY_PENDING) return;
        const failure = new RpcError(
          Code.Unavailable,
          `registry watch of '${service}' failed: ${error?.message}`,
          {
            cause: error,
          },
        );
        if (entry.watching) entry.startError = failure;
        entry.waiters.reject(failure);
      },
    );
  }

  /** A new list: cleaned, then compared with the last by id and address. */
  private receive(service: string, entry: Entry, list: readonly ServiceInstance[]): void {
    if (!Array.isArray(list)) {
      // Not a list: keep the last one rather than drop every instance.
      reportWarning(
        `the registry delivered ${typeof list} for '${service}', not a list: ignored`,
        'MiniRpcRegistryWarning',
      );
      return;
    }
    const { instances, leftOut } = clean(service, list);
    const before = entry.instances === EMPTY_PENDING ? [] : entry.instances;
    const beforeById = new Map(before.map((i) => [i.id, i]));
    const afterById = new Map(instances.map((i) => [i.id, i]));
    for (const line of leftOut)
      if (!entry.leftOut.includes(line)) reportWarning(line, 'MiniRpcRegistryWarning');
    entry.instances = instances;
    entry.leftOut = leftOut;
    entry.waiters.resolve();
    // An id whose address changed left the old address and joined the new one: the old one's pool drains.
    this.onChange(
      service,
      instances.filter((i) => !sameAddress(beforeById.get(i.id), i)),
      before.filter((i) => !sameAddress(afterById.get(i.id), i)),
    );
  }
}

const EMPTY_PENDING: readonly ServiceInstance[] = Object.freeze([]);

const sameAddress = (a: ServiceInstance | undefined, b: ServiceInstance): boolean =>
  a !== undefined && a.host === b.host && a.port === b.port;

/** The usable instances of `list` (first entry of each id) and a line for each entry left out. */
function clean(
  service: string,
  list: readonly ServiceInstance[],
): { instances: ServiceInstance[]; leftOut: string[] } {
  const instances: ServiceInstance[] = [];
  const leftOut: string[] = [];
  const seen = new Set<string>();
  for (const inst of list) {
    const problem =
      typeof inst !== 'object' || inst === null
        ? 'is not an instance'
        : typeof inst.id !== 'string' || inst.id === ''
          ? 'has no id'
          : addressProblem(inst.host, inst.port);
    if (problem !== undefined) {
      const what = typeof inst?.id === 'string' ? `instance '${inst.id}'` : 'an entry';
      leftOut.push(`${what} of '${service}' left out: ${problem}`);
    } else if (!seen.has(inst.id)) {
      seen.add(inst.id);
      instances.push(inst);
    }
  }
  return { instances, leftOut };
}

function isThenable(value: unknown): value is PromiseLike<RegistryWatch> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** Stops `watch`; resolves when it has, whether its `stop()` resolves, rejects or throws. */
async function stopQuietly(watch: RegistryWatch | undefined): Promise<void> {
  try {
    await watch?.stop();
  } catch {
    // The client is closing: a watch that fails to stop cleanly has nobody left to tell.
  }
}
