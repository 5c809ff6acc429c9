import { connect as netConnect } from 'node:net';
import { jsonCodec } from '@mini-rpc/codec';
import type { Frame, Registry, ServerContext, ServiceInstance } from '@mini-rpc/protocol';
import { Code, FrameType, IDEMPOTENT_METADATA_KEY, MetadataKey, RpcError } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { useCleanups, waitFor } from '../../../tooling/testing/harness.js';
import { rawClient } from '../test/raw-client.js';
import type { Logger, ServerOptions } from './index.js';
import { createServer, method, service, silentLogger } from './index.js';

const cleanups = useCleanups();

/** Handlers park here until the test opens the gate; a parked handler rejects when its signal aborts. */
function createGate() {
  let release!: () => void;
  const opened = new Promise<void>((r) => {
    release = r;
  });
  const aborts: unknown[] = [];
  return {
    aborts,
    open: () => release(),
    wait(value: unknown, ctx: ServerContext): Promise<unknown> {
      return new Promise((resolve, reject) => {
        ctx.signal.addEventListener('abort', () => {
          aborts.push(ctx.signal.reason);
          reject(ctx.signal.reason);
        });
        void opened.then(() => resolve(value));
      });
    },
  };
}

async function startServer(gate: ReturnType<typeof createGate>, options: ServerOptions = {}) {
  const server = createServer({ logger: silentLogger, ...options });
  server.addService(
    {
      parked: (args: unknown, ctx: ServerContext) => gate.wait(args, ctx),
      hang: () => new Promise(() => {}),
      add: ({ a, b }: { a: number; b: number }) => a + b,
    },
    { name: 'Test' },
  );
  const { port } = await server.listen();
  cleanups.push(() => server.close({ graceMs: 100 }));
  return { server, port };
}

/** True when something accepts a TCP connection on `port` right now. */
function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A tiny in-memory Registry that records what the server does with it. */
function recordingRegistry(onDeregister?: (instance: ServiceInstance) => Promise<void>) {
  const events: string[] = [];
  const instances = new Map<string, ServiceInstance>();
  const registry: Registry = {
    async register(instance) {
      events.push(`register ${instance.id}`);
      instances.set(instance.id, instance);
    },
    async deregister(instance) {
      events.push(`deregister ${instance.id}`);
      await onDeregister?.(instance);
      instances.delete(instance.id);
    },
    async discover(name) {
      return [...instances.values()].filter((i) => i.name === name);
    },
    watch() {
      return { stop: async () => {} };
    },
    async close() {},
  };
  return { registry, events, instances };
}

describe('graceful close', () => {
  it('GoAway carries the highest accepted id; accepted calls are answered, later ids refused as not run', async () => {
    const gate = createGate();
    const { server, port } = await startServer(gate);
    const c = await rawClient(port, cleanups);
    c.request(1, 'parked', 'one');
    c.request(3, 'parked', 'three');
    c.request(2, 'parked', 'two');
    await waitFor(() => server.inFlight === 3, 3_000, 'three calls running');
    let closed = false;
    const closing = server.close({ graceMs: 5_000 }).then(() => {
      closed = true;
    });
    await waitFor(() => c.find(FrameType.GoAway) !== undefined, 3_000, 'GoAway');
    const goAway = c.find(FrameType.GoAway) as Frame;
    expect(goAway.id).toBe(3);
    expect(goAway.metadata[MetadataKey.Status]).toBe(String(Code.Unavailable));
    expect(goAway.metadata[MetadataKey.Message]).toBe('server shutting down');

    c.request(4, 'add', { a: 1, b: 1 });
    await waitFor(() => c.find(FrameType.Response, 4) !== undefined, 3_000, 'the refusal of id 4');
    const refused = c.find(FrameType.Response, 4) as Frame;
    expect(refused.metadata[MetadataKey.Status]).toBe(String(Code.Unavailable));
    expect(refused.metadata[MetadataKey.NotRun]).toBe('1');
    expect(refused.metadata[MetadataKey.Message]).toBe('server shutting down: call not run');
    expect(closed).toBe(false);

    gate.open();
    await closing;
    for (const [id, value] of [
      [1, 'one'],
      [2, 'two'],
      [3, 'three'],
    ] as const) {
      const r = c.find(FrameType.Response, id);
      expect(r?.metadata[MetadataKey.Status]).toBeUndefined();
      expect(jsonCodec.decode(r?.payload ?? new Uint8Array())).toBe(value);
    }
    await waitFor(() => c.closes.length > 0, 3_000, 'the client connection to close');
    expect(c.closes).toEqual([undefined]);
    expect(gate.aborts).toEqual([]);
    expect(await accepting(port)).toBe(false);
  });

  it('an idle connection gets GoAway(0) and is closed at once', async () => {
    const { server, port } = await startServer(createGate());
    const c = await rawClient(port, cleanups);
    await waitFor(() => server.connections === 1, 3_000, 'accepted');
    await server.close({ graceMs: 5_000 });
    expect(c.find(FrameType.GoAway)?.id).toBe(0);
    await waitFor(() => c.closes.length > 0, 3_000, 'close');
  });

  it('close resolves after the grace period even when a handler hangs; running handlers are aborted', async () => {
    const gate = createGate();
    const { server, port } = await startServer(gate);
    const c = await rawClient(port, cleanups);
    c.request(1, 'parked');
    c.request(2, 'hang');
    await waitFor(() => server.inFlight === 2, 3_000, 'calls running');
    const t0 = Date.now();
    await server.close({ graceMs: 150 });
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1_500);
    expect(gate.aborts).toHaveLength(1);
    expect((gate.aborts[0] as RpcError).code).toBe(Code.Unavailable);
    expect(server.inFlight).toBe(0);
    expect(server.connections).toBe(0);
    await waitFor(() => c.closes.length > 0, 3_000, 'the client to see the close');
    expect(c.find(FrameType.Response)).toBeUndefined();
  });

  it('shutdownGraceMs is the default grace period', async () => {
    const { server, port } = await startServer(createGate(), { shutdownGraceMs: 100 });
    const c = await rawClient(port, cleanups);
    c.request(1, 'hang');
    await waitFor(() => server.inFlight === 1, 3_000, 'call running');
    const t0 = Date.now();
    await server.close();
    expect(Date.now() - t0).toBeLessThan(1_500);
  });
});

describe('registry', () => {
  @service('Decorated', { metadata: { zone: 'eu-1' } })
  class Decorated {
    @method({ idempotent: true })
    get(): number {
      return 1;
    }
    @method({ name: 'put', idempotent: true })
    store(): void {}
    @method()
    remove(): void {}
  }

  it('registers one instance per service once listening, with weight and merged metadata', async () => {
    const { registry, events } = recordingRegistry();
    const server = createServer({
      logger: silentLogger,
      registry,
      weight: 3,
      instanceMetadata: { version: '1.2.3', zone: 'override' },
    });
    server.addService(new Decorated());
    server.addService({ ping: () => 'pong' }, { name: 'Plain', metadata: { role: 'edge' } });
    expect(server.instances).toEqual([]);
    const { port } = await server.listen();
    cleanups.push(() => server.close({ graceMs: 100 }));
    expect(events).toEqual([`register Decorated@127.0.0.1:${port}`, `register Plain@127.0.0.1:${port}`]);
    expect(server.instances).toEqual([
      {
        id: `Decorated@127.0.0.1:${port}`,
        name: 'Decorated',
        host: '127.0.0.1',
        port,
        weight: 3,
        metadata: { zone: 'override', version: '1.2.3', [IDEMPOTENT_METADATA_KEY]: 'get,put' },
      },
      {
        id: `Plain@127.0.0.1:${port}`,
        name: 'Plain',
        host: '127.0.0.1',
        port,
        weight: 3,
        metadata: { role: 'edge', version: '1.2.3', zone: 'override' },
      },
    ]);
  });

  it('a registration that fails closes the server: what was registered is deregistered, the port is free', async () => {
    // A registry that takes a while to deregister (a network round trip): listen() still waits for it.
    const { registry, events, instances } = recordingRegistry(
      () => new Promise<void>((resolve) => setTimeout(resolve, 50)),
    );
    const register = registry.register.bind(registry);
    registry.register = async (instance) => {
      if (instance.name === 'B') throw new Error('registry refused B');
      await register(instance);
    };
    const server = createServer({ logger: silentLogger, registry });
    server.addService({ ping: () => 'pong' }, { name: 'A' });
    server.addService({ ping: () => 'pong' }, { name: 'B' });
    await expect(server.listen()).rejects.toThrow('registry refused B');
    expect(events).toEqual([`register A@127.0.0.1:${server.port}`, `deregister A@127.0.0.1:${server.port}`]);
    expect(instances.size).toBe(0);
    expect(await accepting(server.port as number)).toBe(false);
  });

  it('close() while listen() is still registering deregisters the services registered after it began', async () => {
    const { registry, events, instances } = recordingRegistry();
    const register = registry.register.bind(registry);
    let releaseB!: () => void;
    const bHeld = new Promise<void>((r) => {
      releaseB = r;
    });
    let bStarted!: () => void;
    const bCalled = new Promise<void>((r) => {
      bStarted = r;
    });
    registry.register = async (instance) => {
      if (instance.name === 'B') {
        bStarted();
        await bHeld;
      }
      await register(instance);
    };
    const server = createServer({ logger: silentLogger, registry });
    server.addService({ ping: () => 'pong' }, { name: 'A' });
    server.addService({ ping: () => 'pong' }, { name: 'B' });
    const listening = server.listen();
    await bCalled;
    const closed = server.close({ graceMs: 100 });
    releaseB();
    await listening;
    await closed;
    await waitFor(() => instances.size === 0, 3_000, 'every instance deregistered');
    expect(events.filter((e) => e.startsWith('deregister')).sort()).toEqual([
      `deregister A@127.0.0.1:${server.port}`,
      `deregister B@127.0.0.1:${server.port}`,
    ]);
  });

  it('announces advertiseHost instead of the listening host', async () => {
    const { registry, instances } = recordingRegistry();
    const server = createServer({ logger: silentLogger, registry, advertiseHost: 'svc.internal' });
    server.addService({ ping: () => 'pong' }, { name: 'Plain' });
    const { port } = await server.listen();
    cleanups.push(() => server.close({ graceMs: 100 }));
    expect([...instances.values()].map((i) => [i.id, i.host, i.weight])).toEqual([
      [`Plain@svc.internal:${port}`, 'svc.internal', 1],
    ]);
  });

  it('on close: deregisters first, while the listener still accepts and before any GoAway; then stops accepting', async () => {
    const order: string[] = [];
    let port = 0;
    let client: Awaited<ReturnType<typeof rawClient>> | undefined;
    const { registry, events, instances } = recordingRegistry(async (instance) => {
      const goAwaySeen = client?.find(FrameType.GoAway) !== undefined;
      order.push(`deregister ${instance.name}: accepting=${await accepting(port)} goAway=${goAwaySeen}`);
    });
    const server = createServer({ logger: silentLogger, registry });
    server.addService({ ping: () => 'pong' }, { name: 'A' });
    server.addService({ ping: () => 'pong' }, { name: 'B' });
    ({ port } = await server.listen());
    client = await rawClient(port, cleanups);
    await waitFor(() => server.connections === 1, 3_000, 'accepted');
    await server.close({ graceMs: 1_000 });
    order.push(`closed: accepting=${await accepting(port)}`);
    expect(order).toEqual([
      'deregister A: accepting=true goAway=false',
      'deregister B: accepting=true goAway=false',
      'closed: accepting=false',
    ]);
    expect(events.filter((e) => e.startsWith('deregister'))).toHaveLength(2);
    expect(instances.size).toBe(0);
    expect(client.find(FrameType.GoAway)).toBeDefined();
  });

  it('a failing deregister is logged and the shutdown goes on', async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (_obj, msg) => warnings.push(msg) };
    const { registry } = recordingRegistry(async () => {
      throw new RpcError(Code.Unavailable, 'registry down');
    });
    const server = createServer({ logger, registry });
    server.addService({ ping: () => 'pong' }, { name: 'A' });
    const { port } = await server.listen();
    await server.close({ graceMs: 100 });
    expect(warnings).toContain('deregister failed');
    expect(await accepting(port)).toBe(false);
  });
});
