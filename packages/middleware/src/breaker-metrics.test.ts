import { breakerMetrics } from '@mini-rpc/middleware';
import type { BreakerState } from '@mini-rpc/protocol';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';

describe('breakerMetrics', () => {
  it('maps closed/half-open/open to 0/1/2 and forgets instances no longer listed', async () => {
    const registry = new Registry();
    const states = new Map<string, BreakerState>([
      ['a:1', 'closed'],
      ['b:2', 'half-open'],
      ['c:3', 'open'],
    ]);
    breakerMetrics({ registry, states: () => states });
    let text = await registry.getSingleMetricAsString('mini_rpc_circuit_state');
    expect(text).toContain('mini_rpc_circuit_state{instance="a:1"} 0');
    expect(text).toContain('mini_rpc_circuit_state{instance="b:2"} 1');
    expect(text).toContain('mini_rpc_circuit_state{instance="c:3"} 2');
    states.delete('c:3');
    states.set('a:1', 'open');
    text = await registry.getSingleMetricAsString('mini_rpc_circuit_state');
    expect(text).toContain('mini_rpc_circuit_state{instance="a:1"} 2');
    expect(text).not.toContain('c:3');
  });

  it('merges several sources and stops reading a closed one', async () => {
    const registry = new Registry();
    const first = breakerMetrics({ registry, states: () => [['x:1', 'open'] as const] });
    breakerMetrics({ registry, states: () => [['y:1', 'closed'] as const] });
    let text = await registry.getSingleMetricAsString('mini_rpc_circuit_state');
    expect(text).toContain('{instance="x:1"} 2');
    expect(text).toContain('{instance="y:1"} 0');
    first.close();
    text = await registry.getSingleMetricAsString('mini_rpc_circuit_state');
    expect(text).not.toContain('x:1');
  });
});
