import { createClient } from '@mini-rpc/client';
import {
  breakerMetrics,
  CIRCUIT_STATE_VALUE,
  clientMetrics,
  metrics,
  poolMetrics,
  recovery,
  serveMetrics,
} from '@mini-rpc/middleware';
import { Code, RpcError } from '@mini-rpc/protocol';
import { createMemoryRegistry } from '@mini-rpc/registry';
import { createBreakerGroup } from '@mini-rpc/resilience';
import { method, service } from '@mini-rpc/server';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from './helpers.js';
import {
  captureLogs,
  harness,
  newRegistry,
  parseExposition,
  type Registry,
  rejection,
  Shop,
  samples,
} from './middleware-fixtures.js';

const h = harness();
afterEach(() => h.cleanup());

/** A service whose only method fails as if its own dependency were down. */
@service('Flaky')
class Flaky {
  runs = 0;

  @method()
  down(): never {
    this.runs++;
    throw new RpcError(Code.Unavailable, 'dependency down');
  }
}

/** Scrapes `url` over real HTTP. */
async function scrape(
  url: string,
): Promise<{ status: number; type: string | null; series: Map<string, number> }> {
  const res = await fetch(url);
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    series: parseExposition(await res.text()),
  };
}

/** Calls made in the counting test, by method and the code the caller gets. */
const PLAN: readonly [method: string, args: unknown, times: number, code: string][] = [
  ['add', { a: 1, b: 2 }, 7, 'OK'],
  ['missing', { id: 'x' }, 3, 'NotFound'],
  ['notReady', {}, 2, 'FailedPrecondition'],
  ['explode', {}, 2, 'Internal'],
];

async function meteredShop(serverRegistry: Registry) {
  const shop = new Shop();
  const { address } = await h.serve(
    {
      middleware: [recovery({ logger: captureLogs('fatal').logger }), metrics({ registry: serverRegistry })],
    },
    [shop],
  );
  return { shop, address };
}

describe('metrics through real servers and clients', () => {
  it('counts every call by service, method and code on both sides; serveMetrics serves the same numbers over HTTP', async () => {
    const serverRegistry = newRegistry();
    const clientRegistry = newRegistry();
    const { address } = await meteredShop(serverRegistry);
    const client = h.connect(address, { interceptors: [clientMetrics({ registry: clientRegistry })] });

    for (const [method, args, times, code] of PLAN) {
      for (let i = 0; i < times; i++) {
        const outcome = await client.call('Shop', method, args).then(
          () => 'OK',
          (e: RpcError) => e.code,
        );
        expect(outcome).toBe(code === 'OK' ? 'OK' : Code[code as keyof typeof Code]);
      }
    }
    // Unknown methods are refused by the server before middleware: the caller counts them, the server not.
    expect((await rejection(client.call('Shop', 'nope'))).code).toBe(Code.NotFound);

    const expected = new Map(
      PLAN.map(([method, , times, code]) => [`service=Shop,method=${method},code=${code}`, times]),
    );
    expect(await samples(serverRegistry, 'mini_rpc_server_requests_total')).toEqual(expected);
    expect(await samples(clientRegistry, 'mini_rpc_client_requests_total')).toEqual(
      new Map([...expected, ['service=Shop,method=nope,code=NotFound', 1]]),
    );
    // One duration observation per call, per method.
    const durations = await samples(serverRegistry, 'mini_rpc_server_request_duration_seconds');
    for (const [method, , times] of PLAN) {
      expect(
        durations.get(`mini_rpc_server_request_duration_seconds_count|service=Shop,method=${method}`),
      ).toBe(times);
    }
    expect(await samples(serverRegistry, 'mini_rpc_server_in_flight')).toEqual(
      new Map([['service=Shop', 0]]),
    );

    // The same numbers over real HTTP on loopback.
    const endpoint = await serveMetrics({ port: 0, registry: serverRegistry });
    h.defer(() => endpoint.close());
    expect(endpoint.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const scraped = await scrape(endpoint.url);
    expect(scraped.status).toBe(200);
    expect(scraped.type).toBe(serverRegistry.contentType);
    for (const [method, , times, code] of PLAN) {
      expect(
        scraped.series.get(
          `mini_rpc_server_requests_total{service="Shop",method="${method}",code="${code}"}`,
        ),
      ).toBe(times);
      expect(
        scraped.series.get(
          `mini_rpc_server_request_duration_seconds_count{service="Shop",method="${method}"}`,
        ),
      ).toBe(times);
    }
    expect(scraped.series.get('mini_rpc_server_in_flight{service="Shop"}')).toBe(0);
    // Scraping twice does not count anything twice.
    await client.call('Shop', 'add', { a: 0, b: 0 });
    const again = await scrape(endpoint.url);
    expect(again.series.get('mini_rpc_server_requests_total{service="Shop",method="add",code="OK"}')).toBe(8);
    expect(
      again.series.get('mini_rpc_server_requests_total{service="Shop",method="missing",code="NotFound"}'),
    ).toBe(3);
    expect((await scrape(endpoint.url.replace('/metrics', '/other'))).status).toBe(404);
  });

  it('in-flight gauges show calls that are running, on both sides, and return to zero', async () => {
    const serverRegistry = newRegistry();
    const clientRegistry = newRegistry();
    const { shop, address } = await meteredShop(serverRegistry);
    const client = h.connect(address, { interceptors: [clientMetrics({ registry: clientRegistry })] });
    const running = [client.call('Shop', 'hold'), client.call('Shop', 'hold'), client.call('Shop', 'hold')];
    await waitFor(() => shop.held.length === 3, 3_000, 'three calls in their handler');
    expect(await samples(serverRegistry, 'mini_rpc_server_in_flight')).toEqual(
      new Map([['service=Shop', 3]]),
    );
    expect(await samples(clientRegistry, 'mini_rpc_client_in_flight')).toEqual(
      new Map([['service=Shop', 3]]),
    );
    shop.held.splice(0, 1)[0]!();
    await running[0];
    expect(await samples(serverRegistry, 'mini_rpc_server_in_flight')).toEqual(
      new Map([['service=Shop', 2]]),
    );
    for (const release of shop.held.splice(0)) release();
    expect(await Promise.all(running)).toEqual(['released', 'released', 'released']);
    expect(await samples(serverRegistry, 'mini_rpc_server_in_flight')).toEqual(
      new Map([['service=Shop', 0]]),
    );
    expect(await samples(clientRegistry, 'mini_rpc_client_in_flight')).toEqual(
      new Map([['service=Shop', 0]]),
    );
    expect(await samples(serverRegistry, 'mini_rpc_server_requests_total')).toEqual(
      new Map([['service=Shop,method=hold,code=OK', 3]]),
    );
  });

  it('without recovery, metrics count what the caller receives for an unexpected error (Unknown)', async () => {
    const registry = newRegistry();
    const { address } = await h.serve({ middleware: [metrics({ registry })] });
    const client = h.connect(address);
    expect((await rejection(client.call('Shop', 'explode'))).code).toBe(Code.Unknown);
    expect((await rejection(client.call('Shop', 'rejects'))).code).toBe(Code.Unknown);
    expect(await samples(registry, 'mini_rpc_server_requests_total')).toEqual(
      new Map([
        ['service=Shop,method=explode,code=Unknown', 1],
        ['service=Shop,method=rejects,code=Unknown', 1],
      ]),
    );
  });

  it('poolMetrics reads client.stats() on each scrape', async () => {
    const registry = newRegistry();
    const { address } = await h.serve();
    const shop = new Shop();
    const { address: second } = await h.serve({}, [shop]);
    const client = h.connect(address);
    const other = h.connect(second);
    const sources = [
      poolMetrics({ registry, pool: 'shop', stats: () => client.stats() }),
      poolMetrics({ registry, pool: 'other', stats: () => other.stats() }),
    ];
    for (let i = 0; i < 6; i++) await client.call('Shop', 'add', { a: i, b: i });
    const endpoint = await serveMetrics({ port: 0, registry });
    h.defer(() => endpoint.close());

    let { series } = await scrape(endpoint.url);
    expect(client.stats()).toEqual({ created: 1, reused: 5, active: 0, idle: 1, reuseRatio: 5 / 6 });
    expect(series.get('mini_rpc_pool_connections_created{pool="shop"}')).toBe(1);
    expect(series.get('mini_rpc_pool_connections_reused{pool="shop"}')).toBe(5);
    expect(series.get('mini_rpc_pool_connections_active{pool="shop"}')).toBe(0);
    expect(series.get('mini_rpc_pool_connections_idle{pool="shop"}')).toBe(1);
    expect(series.get('mini_rpc_pool_reuse_ratio{pool="shop"}')).toBeCloseTo(5 / 6, 12);
    expect(series.get('mini_rpc_pool_connections_created{pool="other"}')).toBe(0);

    // A call in flight makes the connection active; closing a source drops its pool from the next scrape.
    const held = other.call('Shop', 'hold');
    await waitFor(() => shop.held.length === 1, 3_000, 'the held call');
    ({ series } = await scrape(endpoint.url));
    expect(series.get('mini_rpc_pool_connections_active{pool="other"}')).toBe(1);
    expect(series.get('mini_rpc_pool_connections_idle{pool="other"}')).toBe(0);
    shop.held[0]!();
    await held;
    sources[0]!.close();
    ({ series } = await scrape(endpoint.url));
    expect(series.has('mini_rpc_pool_connections_created{pool="shop"}')).toBe(false);
    expect(series.get('mini_rpc_pool_connections_idle{pool="other"}')).toBe(1);
    sources[1]!.close();
  });

  it('breakerMetrics shows each instance breaker of a client group: closed, open, half-open', async () => {
    const registry = newRegistry();
    const discovery = createMemoryRegistry();
    h.defer(() => discovery.close());
    const flaky = new Flaky();
    await h.serve({ registry: discovery }, [new Shop()]);
    await h.serve({ registry: discovery }, [flaky]);
    let now = 1_000_000;
    const breakers = createBreakerGroup({ consecutiveFailures: 3, coolDownMs: 5_000, now: () => now });
    h.defer(() => breakers.close());
    const source = breakerMetrics({ registry, states: () => breakers.states() });
    h.defer(() => source.close());
    const client = createClient({ registry: discovery, breakers, timeoutMs: 5_000 });
    h.defer(() => client.close());

    expect(await client.call('Shop', 'add', { a: 1, b: 1 })).toBe(2);
    for (let i = 0; i < 3; i++)
      expect((await rejection(client.call('Flaky', 'down'))).code).toBe(Code.Unavailable);
    // Open: the next call is refused by the client without reaching the server.
    expect((await rejection(client.call('Flaky', 'down'))).code).toBe(Code.Unavailable);
    expect(flaky.runs).toBe(3);

    const endpoint = await serveMetrics({ port: 0, registry });
    h.defer(() => endpoint.close());
    const ids = [...breakers.states().keys()];
    const shopId = ids.find((id) => id.startsWith('Shop@'))!;
    const flakyId = ids.find((id) => id.startsWith('Flaky@'))!;
    let { series } = await scrape(endpoint.url);
    expect(series.get(`mini_rpc_circuit_state{instance="${shopId}"}`)).toBe(CIRCUIT_STATE_VALUE.closed);
    expect(series.get(`mini_rpc_circuit_state{instance="${flakyId}"}`)).toBe(CIRCUIT_STATE_VALUE.open);
    now += 5_000; // the cool-down passes on the group's clock
    ({ series } = await scrape(endpoint.url));
    expect(series.get(`mini_rpc_circuit_state{instance="${flakyId}"}`)).toBe(
      CIRCUIT_STATE_VALUE['half-open'],
    );
    breakers.delete(flakyId);
    ({ series } = await scrape(endpoint.url));
    expect([...series.keys()].filter((k) => k.startsWith('mini_rpc_circuit_state'))).toEqual([
      `mini_rpc_circuit_state{instance="${shopId}"}`,
    ]);
  });
});
