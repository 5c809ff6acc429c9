import type { ServiceInstance } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';

/**
 * Why `value` is not a valid {@link ServiceInstance}, or undefined when it is. A name may not contain `/`,
 * because the etcd key layout `<prefix>/<name>/<id>` would then let one service's prefix match another's.
 */
function invalidReason(value: Record<string, unknown>): string | undefined {
  const { id, name, host, port, weight, metadata } = value;
  if (typeof id !== 'string' || id === '') return 'id must be a non-empty string';
  if (typeof name !== 'string' || name === '' || name.includes('/'))
    return 'name must be a non-empty string without "/"';
  if (typeof host !== 'string' || host === '') return 'host must be a non-empty string';
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535)
    return 'port must be an integer in 1..65535';
  if (weight !== undefined && (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 1))
    return 'weight must be a positive integer';
  if (metadata !== undefined) {
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))
      return 'metadata must be an object of strings';
    for (const v of Object.values(metadata))
      if (typeof v !== 'string') return 'metadata values must be strings';
  }
  return undefined;
}

function normalize(value: Record<string, unknown>): ServiceInstance {
  return Object.freeze({
    id: value.id as string,
    name: value.name as string,
    host: value.host as string,
    port: value.port as number,
    weight: (value.weight as number | undefined) ?? 1,
    metadata: Object.freeze({ ...((value.metadata as Record<string, string> | undefined) ?? {}) }),
  });
}

/**
 * Checks `instance` and returns a frozen copy that holds only the contract's fields.
 * Throws `RpcError(InvalidArgument)` when a field is missing or malformed.
 */
export function toServiceInstance(instance: ServiceInstance): ServiceInstance {
  const reason =
    typeof instance === 'object' && instance !== null
      ? invalidReason(instance as unknown as Record<string, unknown>)
      : 'instance must be an object';
  if (reason !== undefined) throw new RpcError(Code.InvalidArgument, `invalid service instance: ${reason}`);
  return normalize(instance as unknown as Record<string, unknown>);
}

/** Returns `name` if it is a valid service name (non-empty, no `/`); throws `RpcError(InvalidArgument)` if not. */
export function checkServiceName(name: string): string {
  if (typeof name !== 'string' || name === '' || name.includes('/'))
    throw new RpcError(Code.InvalidArgument, 'service name must be a non-empty string without "/"');
  return name;
}

/** The id of the instance `deregister` was given; throws `RpcError(InvalidArgument)` when there is none. */
export function instanceId(instance: ServiceInstance): string {
  const id = typeof instance === 'object' && instance !== null ? instance.id : undefined;
  if (typeof id !== 'string' || id === '')
    throw new RpcError(Code.InvalidArgument, 'instance id must be a non-empty string');
  return id;
}

/** Parses a stored instance (JSON); undefined when it is not valid JSON or not a valid instance. */
export function parseServiceInstance(json: string): ServiceInstance | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  return invalidReason(record) === undefined ? normalize(record) : undefined;
}

/**
 * Parses the value stored under `<prefix>/<name>/<id>`: undefined unless it is a valid instance with that
 * very name and id (a copy under another key would list an instance twice, or in another service's list).
 */
export function parseStoredInstance(json: string, name: string, id: string): ServiceInstance | undefined {
  const instance = parseServiceInstance(json);
  return instance?.name === name && instance.id === id ? instance : undefined;
}

/** Orders instances by id, so that every registry delivers the same list in the same order. */
export function byId(a: ServiceInstance, b: ServiceInstance): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
