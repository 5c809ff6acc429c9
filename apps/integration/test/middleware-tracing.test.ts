import type { Client } from '@mini-rpc/client';
import type { SpanRecord, TraceContext } from '@mini-rpc/middleware';
import { clientTracing, currentTrace, tracing } from '@mini-rpc/middleware';
import type { ServerContext } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { method, service } from '@mini-rpc/server';
import { afterEach, describe, expect, it } from 'vitest';
import { harness, rejection } from './middleware-fixtures.js';

const h = harness();
afterEach(() => h.cleanup());

interface Seen {
  state: TraceContext;
  current: TraceContext | undefined;
  traceparent: string | undefined;
  tracestate: string | undefined;
}

/** Service B: reports the trace it runs in. */
@service('Back')
class Back {
  @method()
  async where(_args: unknown, ctx: ServerContext): Promise<Seen> {
    await new Promise((resolve) => setTimeout(resolve, 1));
    return {
      state: ctx.state.trace as TraceContext,
      current: currentTrace(),
      traceparent: ctx.metadata.traceparent,
      tracestate: ctx.metadata.tracestate,
    };
  }

  @method()
  fail(): never {
    throw new RpcError(Code.NotFound, 'nothing here');
  }
}

/** Service A: calls B with its own client, after an await and a timer, without passing any trace by hand. */
@service('Front')
class Front {
  b: Client | undefined;

  @method()
  async relay({ failInB }: { failInB?: boolean }, ctx: ServerContext): Promise<{ a: TraceContext; b: Seen }> {
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (failInB === true) await this.b!.call('Back', 'fail');
    const b = (await this.b!.call('Back', 'where')) as Seen;
    return { a: ctx.state.trace as TraceContext, b };
  }
}

const HEX16 = /^[0-9a-f]{16}$/;
const HEX32 = /^[0-9a-f]{32}$/;

async function twoServices() {
  const spans: SpanRecord[] = [];
  const onSpan = (span: SpanRecord): void => {
    spans.push(span);
  };
  const { address: backAddress } = await h.serve({ middleware: [tracing({ onSpan })] }, [new Back()]);
  const front = new Front();
  front.b = h.connect(backAddress, { interceptors: [clientTracing({ onSpan })] });
  const { address: frontAddress } = await h.serve({ middleware: [tracing({ onSpan })] }, [front]);
  const caller = h.connect(frontAddress, { interceptors: [clientTracing({ onSpan })] });
  return { spans, caller };
}

describe('W3C trace context across two services (real servers and clients)', () => {
  it('one trace id end to end, a new span id per hop, each hop the child of the previous one', async () => {
    const { spans, caller } = await twoServices();
    const { a, b } = (await caller.call('Front', 'relay', {})) as { a: TraceContext; b: Seen };

    // Four spans, finished inside out: B's server span, A's client span, A's server span, the caller's.
    expect(spans.map((s) => `${s.kind}:${s.service}.${s.method}`)).toEqual([
      'server:Back.where',
      'client:Back.where',
      'server:Front.relay',
      'client:Front.relay',
    ]);
    const [bServer, aClient, aServer, root] = spans as [SpanRecord, SpanRecord, SpanRecord, SpanRecord];
    expect(root.traceId).toMatch(HEX32);
    for (const s of spans) {
      expect(s.traceId).toBe(root.traceId);
      expect(s.spanId).toMatch(HEX16);
      expect(s.code).toBe(Code.OK);
      expect(s.flags).toBe(1);
    }
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(4);
    expect(root.parentSpanId).toBeUndefined(); // the caller ran outside any trace: it started one
    expect(aServer.parentSpanId).toBe(root.spanId);
    expect(aClient.parentSpanId).toBe(aServer.spanId); // A's outgoing call is a child of A's span…
    expect(bServer.parentSpanId).toBe(aClient.spanId); // …and B's span a child of that call

    // What the handlers saw: ctx.state.trace, the current trace (AsyncLocalStorage, after awaits and timers)
    // and the traceparent header on the wire. (No tracestate: undefined, which MessagePack sends as nil.)
    const none = null;
    expect(a).toEqual({
      traceId: root.traceId,
      spanId: aServer.spanId,
      parentSpanId: root.spanId,
      flags: 1,
      traceState: none,
    });
    expect(b.state).toEqual({
      traceId: root.traceId,
      spanId: bServer.spanId,
      parentSpanId: aClient.spanId,
      flags: 1,
      traceState: none,
    });
    expect(b.current).toEqual(b.state);
    expect(b.traceparent).toBe(`00-${root.traceId}-${aClient.spanId}-01`);
    // The timing of nested spans nests too.
    expect(aServer.startTime).toBeGreaterThanOrEqual(root.startTime);
    expect(aServer.durationMs).toBeLessThanOrEqual(root.durationMs);
    expect(bServer.durationMs).toBeLessThanOrEqual(aClient.durationMs);
  });

  it('with the defaults (no span recording) the ids still propagate: same trace id, new span ids', async () => {
    const { address: backAddress } = await h.serve({ middleware: [tracing()] }, [new Back()]);
    const front = new Front();
    front.b = h.connect(backAddress, { interceptors: [clientTracing()] });
    const { address: frontAddress } = await h.serve({ middleware: [tracing()] }, [front]);
    const caller = h.connect(frontAddress, { interceptors: [clientTracing()] });
    const { a, b } = (await caller.call('Front', 'relay', {})) as { a: TraceContext; b: Seen };
    expect(a.traceId).toMatch(HEX32);
    expect(b.state.traceId).toBe(a.traceId);
    expect(b.current).toEqual(b.state);
    expect(a.parentSpanId).toMatch(HEX16); // the caller's span, from its traceparent
    expect(b.state.parentSpanId).toMatch(HEX16);
    expect(new Set([a.parentSpanId, a.spanId, b.state.spanId]).size).toBe(3);
    expect(b.state.spanId).toMatch(HEX16);
  });

  it('concurrent calls keep their own traces through A into B', async () => {
    const { caller } = await twoServices();
    const results = (await Promise.all(
      Array.from({ length: 25 }, () => caller.call('Front', 'relay', {})),
    )) as { a: TraceContext; b: Seen }[];
    expect(new Set(results.map((r) => r.a.traceId)).size).toBe(25);
    for (const { a, b } of results) {
      expect(b.state.traceId).toBe(a.traceId);
      expect(b.current?.traceId).toBe(a.traceId);
      expect(b.state.spanId).not.toBe(a.spanId);
    }
  });

  it("continues a caller's traceparent: its trace id, its flags and its tracestate reach B", async () => {
    const { spans, caller } = await twoServices();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    const { a, b } = (await caller.call(
      'Front',
      'relay',
      {},
      { metadata: { traceparent: `00-${traceId}-${parent}-00`, tracestate: 'vendor=opaque' } },
    )) as { a: TraceContext; b: Seen };
    expect(a).toMatchObject({ traceId, parentSpanId: parent, flags: 0, traceState: 'vendor=opaque' });
    expect(b.state).toMatchObject({ traceId, flags: 0, traceState: 'vendor=opaque' });
    expect(b.tracestate).toBe('vendor=opaque');
    expect(b.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
    // The caller's own header was left alone: no client span of its own.
    expect(spans.filter((s) => s.kind === 'client' && s.service === 'Front')).toEqual([]);
  });

  it('a failure in B is recorded with its code on every span of the trace', async () => {
    const { spans, caller } = await twoServices();
    const err = await rejection(caller.call('Front', 'relay', { failInB: true }));
    expect(err.code).toBe(Code.NotFound);
    expect(spans.map((s) => [`${s.kind}:${s.service}.${s.method}`, s.code])).toEqual([
      ['server:Back.fail', Code.NotFound],
      ['client:Back.fail', Code.NotFound],
      ['server:Front.relay', Code.NotFound],
      ['client:Front.relay', Code.NotFound],
    ]);
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
  });
});
