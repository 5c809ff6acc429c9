import { clientMetrics, logging, metrics, recovery } from '@mini-rpc/middleware';
import type { CallRequest } from '@mini-rpc/protocol';
import { Code, createMetadata, RpcError } from '@mini-rpc/protocol';
import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { compose, makeContext, recordingLogger, rejectionOf } from '../test/compose.js';

/** The value of one series of `name`, matched by its labels. */
async function seriesValue(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const metric = await registry.getSingleMetric(name)?.get();
  const match = metric?.values.find((v) =>
    Object.entries(labels).every(([k, value]) => v.labels[k] === value),
  );
  return match?.value;
}

const call = (method: string): CallRequest => ({
  service: 'Billing',
  method,
  args: [],
  metadata: createMetadata(),
  deadline: undefined,
  signal: undefined,
  idempotent: false,
});

describe('metrics (server)', () => {
  it('counts calls by service, method and code name', async () => {
    const registry = new Registry();
    const mw = metrics({ registry });
    const outcomes: Code[] = [
      ...Array<Code>(5).fill(Code.OK),
      ...Array<Code>(3).fill(Code.NotFound),
      ...Array<Code>(2).fill(Code.Unavailable),
    ];
    for (const outcome of outcomes) {
      const run = compose([mw], () => {
        if (outcome !== Code.OK) throw new RpcError(outcome, 'x');
        return 'ok';
      });
      if (outcome === Code.OK) await run(makeContext({ service: 'Users', method: 'get' }));
      else await rejectionOf(run(makeContext({ service: 'Users', method: 'get' })));
    }
    await compose([mw], () => 'ok')(makeContext({ service: 'Users', method: 'list' }));

    const name = 'mini_rpc_server_requests_total';
    expect(await seriesValue(registry, name, { service: 'Users', method: 'get', code: 'OK' })).toBe(5);
    expect(await seriesValue(registry, name, { service: 'Users', method: 'get', code: 'NotFound' })).toBe(3);
    expect(await seriesValue(registry, name, { service: 'Users', method: 'get', code: 'Unavailable' })).toBe(
      2,
    );
    expect(await seriesValue(registry, name, { service: 'Users', method: 'list', code: 'OK' })).toBe(1);
    const text = await registry.getSingleMetricAsString(name);
    expect(text).toContain('mini_rpc_server_requests_total{service="Users",method="get",code="NotFound"} 3');

    const durations = 'mini_rpc_server_request_duration_seconds';
    expect(await seriesValue(registry, `${durations}`, { service: 'Users', method: 'get', le: '+Inf' })).toBe(
      10,
    );
    const histogram = await registry.getSingleMetricAsString(durations);
    expect(histogram).toContain(
      'mini_rpc_server_request_duration_seconds_count{service="Users",method="get"} 10',
    );
  });

  it('counts, logs and recovers a next() that throws instead of rejecting (a host other than the server)', async () => {
    const registry = new Registry();
    const logger = recordingLogger();
    const boom = new Error('thrown, not rejected');
    const throwing = () => {
      throw boom;
    };
    const ctx = makeContext({ service: 'Users', method: 'sync' });
    // Each layer alone, handed a next() that throws: a rejection, never a throw.
    expect(await rejectionOf(metrics({ registry })(ctx, throwing))).toBe(boom);
    expect(await rejectionOf(logging({ logger })(ctx, throwing))).toBe(boom);
    const recovered = (await rejectionOf(recovery({ logger })(ctx, throwing))) as RpcError;
    expect([recovered.code, recovered.rawMessage]).toEqual([Code.Internal, 'internal error']);
    expect(
      await seriesValue(registry, 'mini_rpc_server_requests_total', {
        service: 'Users',
        method: 'sync',
        code: 'Unknown',
      }),
    ).toBe(1);
    expect(logger.lines.map((l) => [l.level, l.msg])).toEqual([
      ['error', 'rpc call'],
      ['error', 'unexpected error in call'],
    ]);
  });

  it('counts an unexpected error as Internal under recovery and as Unknown without it', async () => {
    const registry = new Registry();
    const boom = () => {
      throw new Error('bug');
    };
    await rejectionOf(
      compose(
        [recovery({ logger: recordingLogger() }), metrics({ registry })],
        boom,
      )(makeContext({ method: 'a' })),
    );
    await rejectionOf(compose([metrics({ registry })], boom)(makeContext({ method: 'b' })));
    const name = 'mini_rpc_server_requests_total';
    expect(await seriesValue(registry, name, { method: 'a', code: 'Internal' })).toBe(1);
    expect(await seriesValue(registry, name, { method: 'b', code: 'Unknown' })).toBe(1);
  });

  it('counts a failure whose error throws when inspected, and in_flight returns to 0', async () => {
    const registry = new Registry();
    // An Error subclass whose name getter throws, and a Proxy that throws on every property read.
    class Odd extends Error {
      override get name(): string {
        throw new Error('no name');
      }
    }
    const hostile = new Proxy(new Error('x'), {
      get() {
        throw new Error('trap');
      },
    });
    for (const thrown of [new Odd('x'), hostile]) {
      // Not rejectionOf: returning the Proxy from an async function would read its `then`.
      let err: unknown;
      await compose([metrics({ registry })], () => {
        throw thrown;
      })(makeContext({ service: 'Odd', method: 'm' })).catch((e: unknown) => {
        err = e;
      });
      expect(err === thrown).toBe(true);
    }
    expect(await seriesValue(registry, 'mini_rpc_server_in_flight', { service: 'Odd' })).toBe(0);
    expect(
      await seriesValue(registry, 'mini_rpc_server_requests_total', { service: 'Odd', code: 'Unknown' }),
    ).toBe(2);
    const send = clientMetrics({ registry })(() => Promise.reject(new Odd('x')));
    await rejectionOf(send(call('m')));
    expect(await seriesValue(registry, 'mini_rpc_client_in_flight', { service: 'Billing' })).toBe(0);
  });

  it('tracks in-flight calls per service', async () => {
    const registry = new Registry();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const run = compose([metrics({ registry })], () => gate);
    const a = run(makeContext({ service: 'Slow' }));
    const b = run(makeContext({ service: 'Slow' }));
    expect(await seriesValue(registry, 'mini_rpc_server_in_flight', { service: 'Slow' })).toBe(2);
    release();
    await Promise.all([a, b]);
    expect(await seriesValue(registry, 'mini_rpc_server_in_flight', { service: 'Slow' })).toBe(0);
  });

  it('shares metric objects between two middleware on one registry, and honours the prefix', async () => {
    const registry = new Registry();
    await compose([metrics({ registry })], () => 1)(makeContext());
    await compose([metrics({ registry })], () => 1)(makeContext());
    expect(await seriesValue(registry, 'mini_rpc_server_requests_total', { code: 'OK' })).toBe(2);
    await compose([metrics({ registry, prefix: 'app_' })], () => 1)(makeContext());
    expect(await seriesValue(registry, 'app_server_requests_total', { code: 'OK' })).toBe(1);
  });

  it('counts again from zero after registry.resetMetrics()', async () => {
    const registry = new Registry();
    const run = compose([metrics({ registry })], () => 1);
    await run(makeContext());
    await run(makeContext());
    expect(await seriesValue(registry, 'mini_rpc_server_requests_total', { code: 'OK' })).toBe(2);
    registry.resetMetrics();
    await run(makeContext());
    expect(await seriesValue(registry, 'mini_rpc_server_requests_total', { code: 'OK' })).toBe(1);
    expect(await seriesValue(registry, 'mini_rpc_server_in_flight', { service: 'Greeter' })).toBe(0);
  });

  it.each([
    ['unsorted', [0.5, 0.1]],
    ['duplicated', [0.1, 0.1]],
    ['NaN', [0.1, Number.NaN]],
    ['infinite', [0.1, Number.POSITIVE_INFINITY]],
  ])('refuses %s duration buckets, registering nothing', (_, buckets) => {
    const registry = new Registry();
    expect(() => metrics({ registry, buckets })).toThrow(RangeError);
    expect(() => clientMetrics({ registry, buckets })).toThrow(RangeError);
    expect(registry.getMetricsAsArray()).toHaveLength(0);
  });

  it('refuses a registry where a name is taken by another kind of metric', () => {
    const registry = new Registry();
    new Counter({
      name: 'mini_rpc_server_in_flight',
      help: 'x',
      labelNames: ['service'],
      registers: [registry],
    });
    expect(() => metrics({ registry })).toThrow(TypeError);
  });
});

describe('clientMetrics', () => {
  it('counts outgoing calls by code and measures them', async () => {
    const registry = new Registry();
    const send = clientMetrics({ registry })(async (c) => {
      if (c.method === 'fail') throw new RpcError(Code.DeadlineExceeded, 'late');
      if (c.method === 'abort') throw new DOMException('gone', 'AbortError');
      return 'ok';
    });
    for (let i = 0; i < 4; i++) expect(await send(call('charge'))).toBe('ok');
    await rejectionOf(send(call('fail')));
    await rejectionOf(send(call('abort')));
    const name = 'mini_rpc_client_requests_total';
    expect(await seriesValue(registry, name, { service: 'Billing', method: 'charge', code: 'OK' })).toBe(4);
    expect(await seriesValue(registry, name, { method: 'fail', code: 'DeadlineExceeded' })).toBe(1);
    expect(await seriesValue(registry, name, { method: 'abort', code: 'Cancelled' })).toBe(1);
    const text = await registry.getSingleMetricAsString('mini_rpc_client_request_duration_seconds');
    expect(text).toContain(
      'mini_rpc_client_request_duration_seconds_count{service="Billing",method="charge"} 4',
    );
    expect(await seriesValue(registry, 'mini_rpc_client_in_flight', { service: 'Billing' })).toBe(0);
  });
});
