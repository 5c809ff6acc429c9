import type { Client, ClientOptions } from '@mini-rpc/client';
import { createClient } from '@mini-rpc/client';
import type { Balancer, Registry, RetryPolicy } from '@mini-rpc/protocol';
import { benchCodecs } from '../bench-codecs.js';
import type { ClientSpec } from '../case-spec.js';
import { optionalFn } from '../optional.js';
import { rpcArgs } from '../payload.js';
import type { Driver } from './driver.js';

/**
 * Registry mode for several instances: a memory registry in the client process that lists the server
 * processes (a memory registry cannot span processes; an etcd one would list the same instances).
 */
async function discoveryOptions(spec: ClientSpec): Promise<Pick<ClientOptions, 'registry' | 'balancer'>> {
  const createMemoryRegistry = await optionalFn<() => Registry>('registry', 'createMemoryRegistry');
  const createBalancer = await optionalFn<(name: string) => Balancer>('balancer', 'createBalancer');
  const registry = createMemoryRegistry();
  for (const port of spec.ports) {
    await registry.register({
      id: `Echo@127.0.0.1:${port}`,
      name: 'Echo',
      host: '127.0.0.1',
      port,
      weight: 1,
      metadata: {},
    });
  }
  return { registry, balancer: createBalancer(spec.balancer ?? 'round-robin') };
}

async function retryOptions(spec: ClientSpec): Promise<Pick<ClientOptions, 'retry' | 'idempotent'>> {
  if (spec.retry !== true) return {};
  const createRetryPolicy = await optionalFn<(o: object) => RetryPolicy>('resilience', 'createRetryPolicy');
  return {
    retry: createRetryPolicy({ maxRetries: 2, initialDelayMs: 5, maxDelayMs: 50 }),
    idempotent: ['Echo.echo', 'Echo.order'],
  };
}

/** mini-rpc: one client, one connection by default (`pool.maxActive` more), or discovery + a balancer. */
export async function createMiniRpcDriver(spec: ClientSpec): Promise<Driver> {
  if (spec.codec === 'raw') throw new TypeError('mini-rpc needs a codec');
  const options: ClientOptions = {
    codec: benchCodecs()[spec.codec],
    ...(spec.pool === undefined ? {} : { pool: spec.pool }),
    ...(spec.ports.length > 1 || spec.balancer !== undefined
      ? await discoveryOptions(spec)
      : { address: { host: '127.0.0.1', port: spec.ports[0] as number } }),
    ...(await retryOptions(spec)),
  };
  const client: Client = createClient(options);
  const method = spec.payload === 'order' ? 'order' : 'echo';
  const args = rpcArgs(spec.codec, spec.payload, spec.size);
  const callOptions = spec.metadata === undefined ? undefined : { metadata: { ...spec.metadata } };
  return {
    sent: args,
    call: () => client.call('Echo', method, args, callOptions),
    stats: () => ({ ...client.stats() }),
    close: () => client.close(),
  };
}
