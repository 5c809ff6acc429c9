import type { Code } from './code.js';
import type { Metadata } from './metadata.js';
import type { ServiceInstance } from './registry.js';

/** What a balancer may look at to pick an instance for one call. */
export interface PickInfo {
  readonly service: string;
  readonly method: string;
  readonly args: unknown;
  readonly metadata: Metadata;
}

/** How a call ended on the instance a balancer picked. */
export interface CallOutcome {
  readonly code: Code;
  /** Wall time from send to settle, in milliseconds. */
  readonly latencyMs: number;
}

/**
 * Picks the instance for each call. One balancer serves every service of a client, so stateful balancers
 * key their state by `instance.id`, and must accept a list that changes between picks.
 * Implementations live in `@mini-rpc/balancer`.
 */
export interface Balancer {
  readonly name: string;
  /** Picks one of `instances`; throws RpcError(Unavailable) when the list is empty. */
  pick(instances: readonly ServiceInstance[], info: PickInfo): ServiceInstance;
  /** The client is about to send a call to `instance`. */
  onStart?(instance: ServiceInstance): void;
  /** A call sent to `instance` has ended. Always follows a matching `onStart`. */
  onEnd?(instance: ServiceInstance, outcome: CallOutcome): void;
}
