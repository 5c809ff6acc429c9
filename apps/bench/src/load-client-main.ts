// A client process of the load bench: waits for a `run` message with a ClientSpec, connects to the
// server process(es), checks one echo, drives closed- or open-loop load, and reports a ClientReport over IPC.
import { availableParallelism } from 'node:os';
import { benchCodecs } from './load/bench-codecs.js';
import type { ClientReport, ClientSpec, LatencySummary } from './load/case-spec.js';
import { runClosedLoop } from './load/closed-loop.js';
import { probeCodecRoundTrip } from './load/codec-probe.js';
import type { Driver } from './load/drivers/driver.js';
import { runOpenLoop } from './load/open-loop.js';
import { sameEcho } from './load/payload.js';
import { WindowRecorder } from './load/window-recorder.js';

async function createDriver(spec: ClientSpec): Promise<Driver> {
  switch (spec.stack) {
    case 'bare':
      return (await import('./load/drivers/bare-driver.js')).createBareDriver(spec);
    case 'mini-rpc':
      return (await import('./load/drivers/mini-rpc-driver.js')).createMiniRpcDriver(spec);
    case 'grpc':
      return (await import('./load/drivers/grpc-driver.js')).createGrpcDriver(spec);
    case 'http':
      return (await import('./load/drivers/http-driver.js')).createHttpDriver(spec);
    case 'moleculer':
      return (await import('./load/drivers/moleculer-driver.js')).createMoleculerDriver(spec);
  }
}

/** The schema the Echo service's `order` method decodes its arguments with (see bench-codecs). */
const ORDER_SCHEMA = { service: 'Echo', method: 'order', kind: 'request' } as const;

function send(message: object, then?: () => void): void {
  process.send?.(message, undefined, {}, () => then?.());
}

async function run(spec: ClientSpec): Promise<ClientReport> {
  const driver = await createDriver(spec);
  try {
    const back = await driver.call();
    if (!sameEcho(driver.sent, back)) throw new Error(`${spec.stack}: the echo differs from what was sent`);
    const recorder = new WindowRecorder(
      {
        warmupMs: spec.warmupMs,
        warmupCalls: spec.warmupCalls,
        maxWarmupMs: spec.maxWarmupMs,
        windowMs: spec.windowMs,
        ...(spec.killAt === undefined
          ? {}
          : { killAfterMs: spec.killAt.afterMs, eventMs: spec.eventMs ?? 1_000 }),
      },
      {
        // The parent answers each with a snapshot of the servers, as at the window's edges: IPC writes go
        // through the same stream code as the calls' sockets, and V8 must have seen both before the window.
        onWarmupTick: () => send({ type: 'warming' }),
        onWindowStart: () => send({ type: 'window-start' }),
        onWindowEnd: () => send({ type: 'window-end' }),
        onKill: () => send({ type: 'kill', index: spec.killAt?.index ?? 0 }),
      },
    );
    let dropped: number | undefined;
    let offeredRate: number | undefined;
    let sendLag: LatencySummary | undefined;
    try {
      if (spec.mode.kind === 'closed') await runClosedLoop(driver, spec.mode.concurrency, recorder);
      else {
        offeredRate = spec.mode.rate;
        ({ dropped, sendLag } = await runOpenLoop(
          driver,
          spec.mode.rate,
          spec.mode.maxOutstanding,
          recorder,
        ));
      }
    } finally {
      recorder.cancel();
    }
    const calls = recorder.calls;
    const failover = recorder.failover();
    // The order message's codec cost, timed now that the load has stopped: the bound of this run's calls/s.
    const codecUsPerCall =
      spec.payload === 'order' && spec.codec !== 'raw'
        ? await probeCodecRoundTrip(benchCodecs()[spec.codec], driver.sent, ORDER_SCHEMA)
        : undefined;
    return {
      calls,
      errors: recorder.errors,
      errorCodes: recorder.errorCodes,
      errorMessages: recorder.errorMessages,
      windowMs: recorder.windowMs,
      warmupCalls: recorder.warmupCalls,
      callsPerSec: (calls * 1000) / recorder.windowMs,
      latency: recorder.latency(),
      clientCpuUsPerCall: calls > 0 ? recorder.clientCpuUs / calls : 0,
      cores: availableParallelism(),
      ...(dropped === undefined ? {} : { dropped }),
      ...(offeredRate === undefined ? {} : { offeredRate }),
      ...(sendLag === undefined ? {} : { sendLag }),
      ...(driver.stats === undefined ? {} : { pool: driver.stats() }),
      ...(failover ?? {}),
      ...(codecUsPerCall === undefined ? {} : { codecUsPerCall }),
    };
  } finally {
    await driver.close();
  }
}

if (process.send === undefined) throw new Error('load-client-main runs as a child with an IPC channel');
process.on('disconnect', () => process.exit(0));
process.on('message', (message: { type: 'run'; spec: ClientSpec }) => {
  if (message.type !== 'run') return;
  run(message.spec).then(
    (report) => {
      send({ type: 'result', report }, () => process.exit(0));
    },
    (err: unknown) => {
      const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
      send({ type: 'error', message: text }, () => process.exit(1));
    },
  );
});
send({ type: 'ready' });
