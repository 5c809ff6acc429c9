import type { Registry, RegistryWatch, ServiceInstance, WatchListener } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import type { Etcd3 } from 'etcd3';
import { createBackoff } from './backoff.js';
import { createEtcdClient } from './etcd-client.js';
import { etcdError } from './etcd-error.js';
import { createEtcdWatch } from './etcd-watch.js';
import { createLeaseRegistration, type LeaseRegistration } from './lease-registration.js';
import { parseEtcdUrl } from './parse-etcd-url.js';
import { type RegistryLogger, silentLogger } from './registry-logger.js';
import { byId, parseServiceInstance, toServiceInstance } from './service-instance.js';

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
  private closing: Promise<void> | undefined;

  constructor(options: EtcdRegistryOptions) {
    const endpoints = typeof options.endpoints === 'string' ? [options.endpoints] : options.endpoints;
    const hosts = endpoints.flatMap((endpoint) => parseEtcdUrl(endpoint));
    if (hosts.length === 0) throw new RpcError(Code.InvalidArgument, 'etcd registry: no endpoints given');
    this.ttlSeconds = positiveInteger('ttlSeconds', options.ttlSeconds ?? 10);
    this.callTimeoutMs = positiveInteger('callTimeoutMs', options.callTimeoutMs ?? 2000);
    this.prefix = (options.prefix ?? '/mini-rpc/services').replace(/\/+$/, '');
    this.logger = options.logger ?? silentLogger;
    this.client = createEtcdClient(hosts, this.callTimeoutMs);
  }

  async register(instance: ServiceInstance): Promise<void> {
    this.assertOpen();
    const stored = toServiceInstance(instance);
    const key = this.key(stored.name, stored.id);
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
    this.registrations.set(stored.id, registration);
    try {
      await registration.put(JSON.stringify(stored));
    } catch (error) {
      // A failed move to another service name leaves the old registration in place.
      if (registration !== existing && this.registrations.get(stored.id) === registration) {
        if (existing) this.registrations.set(stored.id, existing);
        else this.registrations.delete(stored.id);
      }
      throw error;
    }
    if (existing && existing !== registration) await existing.stop();
  }

  async deregister(instance: ServiceInstance): Promise<void> {
    const registration = this.registrations.get(instance.id);
    if (registration) {
      this.registrations.delete(instance.id);
      return registration.stop();
    }
    if (this.closing) return;
    // Registered elsewhere (another process, a previous run): remove its key all the same.
    if (typeof instance.id !== 'string' || instance.id === '')
      throw new RpcError(Code.InvalidArgument, 'instance id must be a non-empty string');
    const key = this.key(instance.name, instance.id);
    try {
      await this.client.delete().key(key);
    } catch (error) {
      throw etcdError('deregister', error);
    }
  }

  async discover(name: string): Promise<ServiceInstance[]> {
    this.assertOpen();
    let values: Record<string, string>;
    try {
      values = await this.client.getAll().prefix(this.servicePrefix(name)).strings();
    } catch (error) {
      throw etcdError('discover', error);
    }
    const out: ServiceInstance[] = [];
    for (const json of Object.values(values)) {
      const instance = parseServiceInstance(json);
      if (instance) out.push(instance);
    }
    return out.sort(byId);
  }

  watch(name: string, listener: WatchListener, onError?: (error: Error) => void): RegistryWatch {
    this.assertOpen();
    const inner = createEtcdWatch({
      client: this.client,
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
    const watches = [...this.watches];
    const registrations = [...this.registrations.values()];
    this.registrations.clear();
    const results = await Promise.allSettled([
      ...watches.map((watch) => watch.stop()),
      ...registrations.map((registration) => registration.stop()),
    ]);
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
    if (typeof name !== 'string' || name === '' || name.includes('/'))
      throw new RpcError(Code.InvalidArgument, 'service name must be a non-empty string without "/"');
    return `${this.prefix}/${name}/`;
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
 * and rebuild after a cancelled watch (compaction); while etcd is unreachable they deliver nothing, so the
 * last list stays in force. `register`, `deregister` and `discover` reject with `RpcError(Unavailable)`
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
