import type { PickInfo } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';

/**
 * The error every balancer throws when asked to pick from an empty list: Unavailable, so the client's
 * retry policy may wait for the registry to bring an instance back.
 */
export function noInstances(balancer: string, info: PickInfo): RpcError {
  return new RpcError(
    Code.Unavailable,
    `no instances of service "${info.service}" to pick from (balancer ${balancer})`,
  );
}
