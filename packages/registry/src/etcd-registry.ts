import type { Registry, RegistryWatch, ServiceInstance, WatchListener } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import type { Etcd3 } from 'etcd3';
import { createBackoff } from './backoff.js';
import { createEtcdClient } from './etcd-client.js';
import { etcdError } from './etcd-error.js';
import { createEtcdWatch } from './etcd-watch.js';
import { createLeaseRegistration, type LeaseRegistration } from './lease-registration.js';
import { parseEtcdUrl } from './parse-etcd-url.js';
import { guardedLogger, logIgnoredValue, type RegistryLogger, silentLogger } from './registry-logger.js';
import {
  byId,
  checkServiceName,
  instanceId,
  parseStoredInstance,
  toServiceInstance,
} from './service-instance.js';

/** Options of {@link createEtcdRegistry}. */
export interface EtcdRegistryOptions {
  /**
   * The etcd cluster's members: `etcd://host:port` (TLS: `etcds://`), `http(s)://host:port` or `host:port`;
   * an array, or one string with members separated by commas.
   */
  endpoints: readonly string[] | string;
  /** Root of the key layout `<prefix>/<service name>/<instance id>`. Default `/mini-rpc/services`. */
  prefix?: string;
  /**
   * Lease TTL in seconds: how long a crashed instance stays discoverable. Default 10. etcd raises a TTL
   * below its minimum (about 1.5 × election timeout, 2 s with etcd's defaults) to that minimum.
   */
  ttlSeconds?: number;
  /** Deadline of every etcd call, in ms. Default 2000. */
  callTimeoutMs?: number;
  /** Receives what the registry does on its own: lease lost, registered again, watch rebuilt. */
  logger?: RegistryLogger;
}

class EtcdRegistry implements Registry {
  private readonly client: Etcd3;
  private readonly prefix: string;
  private readonly ttlSeconds: number;
  private readonly callTimeoutMs: number;
  private readonly logger: RegistryLogger;
  /** Registrations made through this object, by instance id. */
  private readonly registrations = new Map<string, LeaseRegistration>();
  private readonly watches = new Set<RegistryWatch>();
  /** The last queued register/deregister of each id, see {@link EtcdRegistry.serial}. */
  private readonly pending = new Map<string, Promise<void>>();
  private closing: Promise<void> | undefined;

  constructor(options: EtcdRegistryOptions) {
    const endpoints = typeof options.endpoints === 'string' ? [options.endpoints] : options.endpoints;
    const hosts = endpoints.flatMap((endpoint) => parseEtcdUrl(endpoint));
    if (hosts.length === 0) throw new RpcError(Code.InvalidArgument, 'etcd registry: no endpoints given');
    this.ttlSeconds = positiveInteger('ttlSeconds', options.ttlSeconds ?? 10);
    this.callTimeoutMs = positiveInteger('callTimeoutMs', options.callTimeoutMs ?? 2000);
    this.prefix = (options.prefix ?? '/mini-rpc/services').replace(/\/+$/, '');
    this.logger = options.logger === undefined ? silentLogger : guardedLogger(options.logger);
    this.client = createEtcdClient(hosts, this.callTimeoutMs);
  }

  async register(instance: ServiceInstance): Promise<void> {
    this.assertOpen();
    const stored = toServiceInstance(instance);
    const key = this.key(stored.name, stored.id);
    return this.serial(stored.id, () => this.put(stored, key));
  }

  async deregister(instance: ServiceInstance): Promise<void> {
    return this.serial(instanceId(instance), () => this.remove(instance));
  }

  private async put(stored: ServiceInstance, key: string): Promise<void> {
    // Queued behind another call of this id, it may start after close() began: refuse, as close() would.
    this.assertOpen();
    const existing = this.registrations.get(stored.id);
    const registration =
      existing?.key === key
        ? existing
        : createLeaseRegistration({
            client: this.client,
            key,
            ttlSeconds: this.ttlSeconds,
            logger: this.logger,
            // Retry sooner than the TTL, so that a lost registration is back before clients miss it for long.
            backoff: createBackoff(100, Math.min(2000, (this.ttlSeconds * 1000) / 2)),
          });
    // A failed put leaves things as they were: a new registration's lease is revoked by put() itself, and a
    // failed move to another service name leaves the old registration in place.
    await registration.put(JSON.stringify(stored));
    this.registrations.set(stored.id, registration);
    if (existing && existing !== registration) await existing.stop();
  }

  private async remove(instance: ServiceInstance): Promise<void> {
    const registration = this.registrations.get(instance.id);
    if (registration) {
      this.registrations.delete(instance.id);
      return registration.stop();
    }
    if (this.closing) return;
    // Registered elsewhere (another process, a previous run): remove its key all the same.
    const key = this.key(instance.name, instance.id);
    try {
      await this.client.delete().key(key);
    } catch (error) {
      throw etcdError('deregister', error);
    }
  }

  /**
   * Runs `op` after every earlier register/deregister of the same id has settled: a register that moves an
   * instance to another name, and a deregister or close that comes while it is in flight, then each see
   * the other's result, and no lease is left behind (a deregister used to miss the old name's lease).
   */
  private serial(id: string, op: () => Promise<void>): Promise<void> {
    const result = (this.pending.get(id) ?? Promise.resolve()).then(op);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.pending.set(id, tail);
    void tail.then(() => {
      if (this.pending.get(id) === tail) this.pending.delete(id);
    });
    return result;
  }

  async discover(name: string): Promise<ServiceInstance[]> {
    this.assertOpen();
    const keyPrefix = this.servicePrefix(name);
    let values: Record<string, string>;
    try {
      values = await this.client.getAll().prefix(keyPrefix).strings();
    } catch (error) {
      throw etcdError('discover', error);
    }
    const out: ServiceInstance[] = [];
    for (const [key, json] of Object.entries(values)) {
      const instance = parseStoredInstance(json, name, key.slice(keyPrefix.length));
      if (instance) out.push(instance);
      else logIgnoredValue(this.logger, key);
    }
    return out.sort(byId);
  }

  watch(name: string, listener: WatchListener, onError?: (error: Error) => void): RegistryWatch {
    this.assertOpen();
    const inner = createEtcdWatch({
      client: this.client,
      name,
      keyPrefix: this.servicePrefix(name),
      listener,
      onError,
      logger: this.logger,
      backoff: createBackoff(100, 2000),
      stopTimeoutMs: this.callTimeoutMs,
    });
    const watch: RegistryWatch = {
      stop: () => {
        this.watches.delete(watch);
        return inner.stop();
      },
    };
    this.watches.add(watch);
    return watch;
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const watchesStopped = Promise.allSettled([...this.watches].map((watch) => watch.stop()));
    // Calls in flight finish first (each etcd call has its deadline); those queued behind them see `closing`.
    await Promise.all(this.pending.values());
    const registrations = [...this.registrations.values()];
    this.registrations.clear();
    const results = [
      ...(await watchesStopped),
      ...(await Promise.allSettled(registrations.map((registration) => registration.stop()))),
    ];
    for (const result of results)
      if (result.status === 'rejected')
        this.logger.warn(
          { error: (result.reason as Error).message },
          'etcd registry: close could not revoke a lease; its key expires within the TTL',
        );
    // Only now: client.close() does not stop lease keepalives, a lease not revoked first would live on.
    this.client.close();
  }

  private servicePrefix(name: string): string {
    return `${this.prefix}/${checkServiceName(name)}/`;
  }

  private key(name: string, id: string): string {
    return `${this.servicePrefix(name)}${id}`;
  }

  private assertOpen(): void {
    if (this.closing) throw new RpcError(Code.FailedPrecondition, 'etcd registry is closed');
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new RpcError(Code.InvalidArgument, `etcd registry: ${name} must be a positive integer`);
  return value;
}

/**
 * Creates a {@link Registry} backed by an etcd cluster (etcd v3 API).
 *
 * Each instance is stored as JSON under `<prefix>/<name>/<id>` on its own lease, kept alive by the client;
 * when the lease is lost (etcd unreachable for longer than the TTL), the registry grants a new one and puts
 * the key again, with backoff, until `deregister` or `close`. Watches list, then watch from that revision,
 * and list and watch again after every reconnect of their stream and after a cancelled watch (compaction);
 * while etcd is unreachable they deliver nothing, so the last list stays in force. `register`, `deregister` and `discover` reject with `RpcError(Unavailable)`
 * (or `DeadlineExceeded`) when etcd cannot be reached within `callTimeoutMs`, and with `InvalidArgument`
 * for a malformed instance or name; the constructor throws `InvalidArgument` for bad options.
 *
 * @example
 * ```ts
 * const registry = createEtcdRegistry({ endpoints: ['etcd://127.0.0.1:2379'], ttlSeconds: 5 });
 * await registry.register({ id: 'Arith@10.0.0.5:4000', name: 'Arith', host: '10.0.0.5', port: 4000, weight: 1, metadata: {} });
 * const watch = registry.watch('Arith', (instances) => balancerInput.update(instances));
 * // on shutdown
 * await watch.stop();
 * await registry.close(); // revokes the lease: watchers see the instance go at once
 * ```
 */
export function createEtcdRegistry(options: EtcdRegistryOptions): Registry {
  return new EtcdRegistry(options);
}
