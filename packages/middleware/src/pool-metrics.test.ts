import { poolMetrics } from '@mini-rpc/middleware';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';

describe('poolMetrics', () => {
  it('reads the pool stats on each scrape', async () => {
    const registry = new Registry();
    const stats = { created: 3, reused: 97, active: 2, idle: 1, reuseRatio: 0.97 };
    let calls = 0;
    poolMetrics({
      registry,
      stats: () => {
        calls++;
        return stats;
      },
    });
    expect(calls).toBe(0);
    const text = await registry.metrics();
    expect(text).toContain('mini_rpc_pool_connections_created{pool="default"} 3');
    expect(text).toContain('mini_rpc_pool_connections_reused{pool="default"} 97');
    expect(text).toContain('mini_rpc_pool_connections_active{pool="default"} 2');
    expect(text).toContain('mini_rpc_pool_connections_idle{pool="default"} 1');
    expect(text).toContain('mini_rpc_pool_reuse_ratio{pool="default"} 0.97');
    stats.active = 5;
    expect(await registry.metrics()).toContain('mini_rpc_pool_connections_active{pool="default"} 5');
  });

  it('keeps several pools apart, drops a closed one, and survives a failing source', async () => {
    const registry = new Registry();
    const base = { created: 1, reused: 0, active: 0, idle: 1, reuseRatio: 0 };
    const users = poolMetrics({ registry, pool: 'users', stats: () => ({ ...base, created: 4 }) });
    poolMetrics({ registry, pool: 'billing', stats: () => ({ ...base, created: 6 }) });
    poolMetrics({
      registry,
      pool: 'broken',
      stats: () => {
        throw new Error('closed');
      },
    });
    let text = await registry.getSingleMetricAsString('mini_rpc_pool_connections_created');
    expect(text).toContain('{pool="users"} 4');
    expect(text).toContain('{pool="billing"} 6');
    expect(text).not.toContain('broken');
    // A source that answers with something other than numbers is left out too, not the whole scrape.
    poolMetrics({
      registry,
      pool: 'odd',
      stats: () => ({ ...base, created: undefined as unknown as number }),
    });
    text = await registry.getSingleMetricAsString('mini_rpc_pool_connections_created');
    expect(text).toContain('{pool="users"} 4');
    expect(text).not.toContain('odd');
    users.close();
    text = await registry.getSingleMetricAsString('mini_rpc_pool_connections_created');
    expect(text).not.toContain('users');
    expect(text).toContain('{pool="billing"} 6');
  });
});
