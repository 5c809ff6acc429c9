/**
 * One running instance of a service, as a registry stores it and a balancer sees it.
 * `id` is unique across all instances of all services (e.g. `Arith@127.0.0.1:4000`).
 */
export interface ServiceInstance {
  readonly id: string;
  /** The service name clients look up. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Relative share for weighted balancers; a positive integer, default 1. */
  readonly weight: number;
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Instance metadata key under which a server lists the service's idempotent methods (comma-separated), so
 * clients that discover it may retry those calls after a connection loss without a client-side setting.
 */
export const IDEMPOTENT_METADATA_KEY = 'mini-rpc.idempotent';

/** A running watch; `stop()` ends it and no listener call follows. */
export interface RegistryWatch {
  stop(): Promise<void>;
}

/** Gets the full instance list, first soon after `watch()` is called, then after every change. */
export type WatchListener = (instances: readonly ServiceInstance[]) => void;

/**
 * Where instances announce themselves and clients find them. Implementations: `createMemoryRegistry()` and
 * `createEtcdRegistry()` in `@mini-rpc/registry`, or your own.
 */
export interface Registry {
  /** Announces `instance`; resolves once discoverable. Registering the same id again replaces it. */
  register(instance: ServiceInstance): Promise<void>;
  /** Removes `instance` (by id); resolves once it is gone. Unknown ids are not an error. */
  deregister(instance: ServiceInstance): Promise<void>;
  /** The current instances of service `name` (possibly empty). */
  discover(name: string): Promise<ServiceInstance[]>;
  /** Follows the instances of `name`; the listener gets the full list on every change. */
  watch(name: string, listener: WatchListener, onError?: (error: Error) => void): RegistryWatch;
  /** Deregisters what this registry object registered and releases its resources. */
  close(): Promise<void>;
}
