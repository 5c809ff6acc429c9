import { Code, RpcError } from '@mini-rpc/protocol';

// Option checks shared by the factories. Internal: not exported from the package.

/** Throws RpcError(InvalidArgument) unless `value` is a duration in ms (≥ 0; `Infinity` allowed). */
export function assertMs(value: number, name: string): void {
  if (!(value >= 0)) invalid(name, 'a number of milliseconds >= 0', value);
}

/** Throws RpcError(InvalidArgument) unless `value` is an integer ≥ `min` (`Infinity` allowed). */
export function assertCount(value: number, name: string, min = 0): void {
  if (!(value >= min) || (value !== Number.POSITIVE_INFINITY && !Number.isInteger(value))) {
    invalid(name, `an integer >= ${min}`, value);
  }
}

/** Throws RpcError(InvalidArgument) unless `low <= value <= high`. */
export function assertRange(value: number, name: string, low: number, high: number): void {
  if (!(value >= low && value <= high)) invalid(name, `a number in [${low}, ${high}]`, value);
}

/** Throws RpcError(InvalidArgument) saying that option `name` must be `what`. */
export function invalid(name: string, what: string, value: unknown): never {
  throw new RpcError(Code.InvalidArgument, `${name} must be ${what}, got ${String(value)}`);
}
