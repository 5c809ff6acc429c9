import type { PickInfo } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';

/**
 * Reads the key that {@link consistentHash} hashes from a call. `undefined` means the call has no key;
 * such calls are spread round robin instead of all landing on one instance.
 */
export type HashKey = (info: PickInfo) => string | undefined;

/**
 * A {@link HashKey} that reads the metadata entry `name`, e.g. a user id header, so that all calls of one
 * user go to the same instance. Calls without the entry have no key (nor do calls whose entry is not a
 * string); an empty string is a key like any other.
 *
 * @example
 * ```ts
 * const balancer = consistentHash({ key: metadataKey('x-user') });
 * ```
 */
export function metadataKey(name: string): HashKey {
  return (info) => {
    // Metadata is a plain object: `constructor`, `toString`, … of a call without the entry are inherited
    // functions, and hashing one threw a TypeError from pick.
    const value: unknown = info.metadata[name];
    return typeof value === 'string' ? value : undefined;
  };
}

/**
 * A {@link HashKey} that reads the argument at `index` (default 0) of a call whose `args` is an array (as
 * the client passes a method's arguments), or `args` itself when it is not an array and `index` is 0.
 * Strings are used as they are; numbers, bigints and booleans are turned into strings; any other value
 * means the call has no key. Throws `RpcError(InvalidArgument)` when `index` is not an integer ≥ 0 (such
 * an index never finds an argument, so every call would silently lose its affinity).
 *
 * @example
 * ```ts
 * // cart.get(cartId) calls for one cart always reach the same instance
 * const balancer = consistentHash({ key: argKey(0) });
 * ```
 */
export function argKey(index = 0): HashKey {
  if (!Number.isInteger(index) || index < 0) {
    throw new RpcError(Code.InvalidArgument, `argKey index must be an integer >= 0, got ${index}`);
  }
  return (info) => {
    const args = info.args;
    const value = Array.isArray(args) ? args[index] : index === 0 ? args : undefined;
    switch (typeof value) {
      case 'string':
        return value;
      case 'number':
      case 'bigint':
      case 'boolean':
        return String(value);
      default:
        return undefined;
    }
  };
}
