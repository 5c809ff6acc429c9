import type { BridgeSpan, SpanRecord, SpanStart, TraceContext, TracingBridge } from '@mini-rpc/middleware';
import {
  clientTracing,
  currentTrace,
  formatTraceparent,
  isValidTraceparent,
  newSpanId,
  newTraceId,
  runWithTrace,
  tracing,
} from '@mini-rpc/middleware';
import type { CallRequest, ServerContext } from '@mini-rpc/protocol';
import { Code, createMetadata, RpcError } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { compose, makeContext, rejectionOf } from '../test/compose.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const HEADER = `00-${TRACE}-${PARENT}-01`;

const traceOf = (ctx: ServerContext) => ctx.state.trace as TraceContext;

function call(service: string, method: string): CallRequest {
  return {
    service,
    method,
    args: [],
    metadata: createMetadata(),
    deadline: undefined,
    signal: undefined,
    idempotent: false,
  };
}

describe('traceparent', () => {
  it('accepts valid headers', () => {
    expect(isValidTraceparent(HEADER)).toBe(true);
    expect(isValidTraceparent(`00-${TRACE}-${PARENT}-00`)).toBe(true);
    expect(isValidTraceparent(`01-${TRACE}-${PARENT}-01-future-field`)).toBe(true);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['upper case', HEADER.toUpperCase()],
    ['a zero trace id', `00-${'0'.repeat(32)}-${PARENT}-01`],
    ['a zero span id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['version ff', `ff-${TRACE}-${PARENT}-01`],
    ['version 00 with extra fields', `${HEADER}-extra`],
    ['a short trace id', `00-${TRACE.slice(1)}-${PARENT}-01`],
    ['non-hex', `00-${TRACE.replace('4', 'g')}-${PARENT}-01`],
    ['wrong separators', HEADER.replaceAll('-', '_')],
  ])('rejects %s', (_, value) => {
    expect(isValidTraceparent(value)).toBe(false);
  });

  it('makes valid random ids and formats flags', () => {
    const ids = new Set(Array.from({ length: 1_000 }, () => newSpanId()));
    expect(ids.size).toBe(1_000);
    const header = formatTraceparent(newTraceId(), newSpanId(), 1);
    expect(isValidTraceparent(header)).toBe(true);
    expect(header.endsWith('-01')).toBe(true);
    expect(formatTraceparent(TRACE, PARENT, 0)).toBe(`00-${TRACE}-${PARENT}-00`);
  });
});

describe('tracing (server)', () => {
  it('continues an incoming trace with a new span id and exposes it in ctx.state.trace', async () => {
    const ctx = makeContext({ metadata: { traceparent: HEADER, tracestate: 'vendor=1' } });
    let inside: TraceContext | undefined;
    await compose([tracing()], () => {
      inside = currentTrace();
    })(ctx);
    const trace = traceOf(ctx);
    expect(trace.traceId).toBe(TRACE);
    expect(trace.parentSpanId).toBe(PARENT);
    expect(trace.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(trace.spanId).not.toBe(PARENT);
    expect(trace.flags).toBe(1);
    expect(trace.traceState).toBe('vendor=1');
    expect(inside).toBe(trace);
    expect(currentTrace()).toBeUndefined();
  });

  it.each([
    ['no header', {}],
    ['an invalid header', { traceparent: `00-${'0'.repeat(32)}-${PARENT}-01`, tracestate: 'dropped=1' }],
  ])('starts a new trace for %s', async (_, metadata) => {
    const ctx = makeContext({ metadata });
    await compose([tracing()], () => {})(ctx);
    const trace = traceOf(ctx);
    expect(trace.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(trace.traceId).not.toBe('0'.repeat(32));
    expect(trace.parentSpanId).toBeUndefined();
    expect(trace.traceState).toBeUndefined();
  });

  it('reports finished spans with their code', async () => {
    const spans: SpanRecord[] = [];
    const mw = tracing({ onSpan: (span) => spans.push(span) });
    await compose(
      [mw],
      () => 'ok',
    )(makeContext({ service: 'S', method: 'ok', metadata: { traceparent: HEADER } }));
    await rejectionOf(
      compose([mw], () => Promise.reject(new RpcError(Code.NotFound, 'x')))(
        makeContext({ method: 'missing' }),
      ),
    );
    expect(spans).toHaveLength(2);
    expect(spans[0]).toMatchObject({
      kind: 'server',
      service: 'S',
      method: 'ok',
      traceId: TRACE,
      parentSpanId: PARENT,
    });
    expect(spans[0]?.code).toBe(Code.OK);
    expect(spans[0]?.durationMs).toBeGreaterThanOrEqual(0);
    expect(spans[0]?.startTime).toBeGreaterThan(1_600_000_000_000);
    expect(spans[1]).toMatchObject({ method: 'missing', code: Code.NotFound });
    expect(spans[1]?.error).toBeInstanceOf(RpcError);
  });

  it('never lets a failing onSpan change the outcome', async () => {
    const ctx = makeContext();
    await compose(
      [
        tracing({
          onSpan: () => {
            throw new Error('exporter down');
          },
        }),
      ],
      () => 'ok',
    )(ctx);
    expect(ctx.result).toBe('ok');
  });
});

describe('trace propagation A → B', () => {
  // Service B: traced; records the trace it sees.
  const seenByB: TraceContext[] = [];
  const runB = compose([tracing()], (ctx) => {
    seenByB.push(traceOf(ctx));
    return 'from B';
  });
  // The "network": the client pipeline's last step hands the call's metadata to B's server chain.
  const clientSpans: SpanRecord[] = [];
  const sendToB = clientTracing({ onSpan: (s) => clientSpans.push(s) })((c) => {
    const ctx = makeContext({ service: c.service, method: c.method, metadata: { ...c.metadata } });
    return runB(ctx).then(() => ctx.result);
  });
  // Service A: traced; its handler calls B after crossing an async boundary.
  const runA = compose([tracing()], async () => {
    await new Promise<void>((resolve) => setImmediate(resolve));
    return sendToB(call('B', 'work'));
  });

  it('carries the trace id from A to B through AsyncLocalStorage, one new span per hop', async () => {
    seenByB.length = 0;
    clientSpans.length = 0;
    const ctxA = makeContext({ metadata: { traceparent: HEADER } });
    await runA(ctxA);
    expect(ctxA.result).toBe('from B');
    const a = traceOf(ctxA);
    const [b] = seenByB;
    const [hop] = clientSpans;
    expect(b?.traceId).toBe(TRACE);
    expect(a.traceId).toBe(TRACE);
    // A's span → the client span of the outgoing call → B's span.
    expect(hop?.parentSpanId).toBe(a.spanId);
    expect(b?.parentSpanId).toBe(hop?.spanId);
    expect(new Set([PARENT, a.spanId, hop?.spanId, b?.spanId]).size).toBe(4);
  });

  it('keeps concurrent traces apart', async () => {
    seenByB.length = 0;
    const first = makeContext({ metadata: { traceparent: HEADER } });
    const second = makeContext();
    await Promise.all([runA(first), runA(second)]);
    const ids = seenByB.map((t) => t.traceId).sort();
    expect(ids).toEqual([traceOf(first).traceId, traceOf(second).traceId].sort());
    expect(traceOf(first).traceId).not.toBe(traceOf(second).traceId);
  });
});

describe('clientTracing', () => {
  const capture = (options?: Parameters<typeof clientTracing>[0]) => {
    const sent: Record<string, string>[] = [];
    const send = clientTracing(options)(async (c) => {
      sent.push({ ...c.metadata });
      return 'ok';
    });
    return { sent, send };
  };

  it('starts a new trace outside any traced call, or sends nothing with newTraces: false', async () => {
    const fresh = capture();
    await fresh.send(call('S', 'm'));
    expect(isValidTraceparent(fresh.sent[0]?.traceparent)).toBe(true);
    const quiet = capture({ newTraces: false });
    await quiet.send(call('S', 'm'));
    expect(quiet.sent[0]?.traceparent).toBeUndefined();
  });

  it('continues the current trace, passes tracestate on, and leaves an explicit header alone', async () => {
    const { sent, send } = capture();
    const parent: TraceContext = {
      traceId: TRACE,
      spanId: PARENT,
      parentSpanId: undefined,
      flags: 0,
      traceState: 'v=1',
    };
    await runWithTrace(parent, () => send(call('S', 'm')));
    const header = sent[0]?.traceparent ?? '';
    expect(header.slice(3, 35)).toBe(TRACE);
    expect(header.slice(36, 52)).not.toBe(PARENT);
    expect(header.endsWith('-00')).toBe(true);
    expect(sent[0]?.tracestate).toBe('v=1');

    const explicit = call('S', 'm');
    explicit.metadata.traceparent = HEADER;
    await send(explicit);
    expect(sent[1]?.traceparent).toBe(HEADER);
  });

  it('reports client spans with the code of a failure', async () => {
    const spans: SpanRecord[] = [];
    const send = clientTracing({ onSpan: (s) => spans.push(s) })(() =>
      Promise.reject(new RpcError(Code.Unavailable, 'x')),
    );
    await rejectionOf(send(call('S', 'm')));
    expect(spans[0]).toMatchObject({ kind: 'client', service: 'S', method: 'm', code: Code.Unavailable });
  });
});

describe('tracing bridge (OpenTelemetry shape)', () => {
  it('lets the bridge choose span ids, run the call in its context and see the end', async () => {
    const events: string[] = [];
    const started: SpanStart[] = [];
    let ids = 0;
    const otel = {
      startSpan(span: SpanStart): BridgeSpan {
        started.push(span);
        const spanId = `${++ids}`.padStart(16, 'a');
        events.push(`start ${span.kind} ${spanId}`);
        return {
          spanId,
          run: <T>(fn: () => T): T => {
            events.push(`run ${spanId}`);
            return fn();
          },
          end: (code) => events.push(`end ${spanId} ${code}`),
        };
      },
    };
    const client = clientTracing({ otel })(async (c) => c.metadata.traceparent);
    const ctx = makeContext({ metadata: { traceparent: HEADER } });
    await compose([tracing({ otel })], () => client(call('B', 'x')))(ctx);
    expect(traceOf(ctx).spanId).toBe('aaaaaaaaaaaaaaa1');
    expect(ctx.result).toBe(`00-${TRACE}-aaaaaaaaaaaaaaa2-01`);
    expect(started[1]?.parentSpanId).toBe('aaaaaaaaaaaaaaa1');
    expect(events).toEqual([
      'start server aaaaaaaaaaaaaaa1',
      'run aaaaaaaaaaaaaaa1',
      'start client aaaaaaaaaaaaaaa2',
      'run aaaaaaaaaaaaaaa2',
      'end aaaaaaaaaaaaaaa2 0',
      'end aaaaaaaaaaaaaaa1 0',
    ]);
  });

  it('adopts the trace id the bridge chose for the root of a new trace', async () => {
    const rootTrace = 'b'.repeat(32);
    const otel = {
      startSpan: (span: SpanStart): BridgeSpan => ({
        ...(span.parentSpanId === undefined ? { traceId: rootTrace } : {}),
        end: () => {},
      }),
    };
    const spans: SpanRecord[] = [];
    const ctx = makeContext();
    const client = clientTracing()(async (c) => c.metadata.traceparent);
    await compose([tracing({ otel, onSpan: (s) => spans.push(s) })], () => client(call('B', 'x')))(ctx);
    expect(traceOf(ctx).traceId).toBe(rootTrace);
    expect(spans[0]?.traceId).toBe(rootTrace);
    expect(String(ctx.result).slice(3, 35)).toBe(rootTrace);
  });

  it('never lets a failing bridge change the outcome of a call', async () => {
    const broken: TracingBridge[] = [
      {
        startSpan: () => {
          throw new Error('exporter misconfigured');
        },
      },
      {
        startSpan: (): BridgeSpan => ({
          run: () => {
            throw new Error('no context manager');
          },
          end: () => {},
        }),
      },
    ];
    for (const otel of broken) {
      let handled = 0;
      const ctx = makeContext({ metadata: { traceparent: HEADER } });
      await compose([tracing({ otel })], () => {
        handled++;
        return 'ok';
      })(ctx);
      expect([ctx.result, handled, traceOf(ctx).traceId]).toEqual(['ok', 1, TRACE]);
      let sent = 0;
      const client = clientTracing({ otel })(async (c) => {
        sent++;
        return c.metadata.traceparent;
      });
      expect(isValidTraceparent(String(await client(call('S', 'm'))))).toBe(true);
      expect(sent).toBe(1);
    }
  });

  it('waits for the call even when the bridge’s run does not return what it ran', async () => {
    const otel: TracingBridge = {
      startSpan: (): BridgeSpan => ({
        run<T>(fn: () => T): T {
          fn();
          return undefined as T;
        },
        end: () => {},
      }),
    };
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const late = new RpcError(Code.NotFound, 'late');
    const outcome = compose([tracing({ otel })], async () => {
      await gate;
      throw late;
    })(makeContext());
    release();
    expect(await rejectionOf(outcome)).toBe(late);
  });

  it('falls back to its own span id when the bridge gives none or an invalid one', async () => {
    const ctx = makeContext();
    const otel = { startSpan: (): BridgeSpan => ({ spanId: 'nope', end: () => {} }) };
    await compose([tracing({ otel })], () => {})(ctx);
    expect(traceOf(ctx).spanId).toMatch(/^[0-9a-f]{16}$/);
  });
});
