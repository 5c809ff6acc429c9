import { mkdirSync, writeFileSync } from 'node:fs';
import * as vega from 'vega';
import type { TopLevelSpec } from 'vega-lite';
import { compile } from 'vega-lite';
import type { CaseResult } from '../load/case-spec.js';
import { sizeLabel, stackLabel } from '../load/cases.js';

/** A chart written to `charts/<file>`, for the report to link. */
export interface Chart {
  readonly file: string;
  readonly title: string;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const MAIN = ['bare', 'mini-rpc msgpack', 'grpc', 'http', 'moleculer json'];
const LOG = { type: 'log' } as const;

/** Renders a vega-lite spec to SVG headless (no browser, no canvas): vega's `renderer: 'none'` + toSVG. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function comparePoints(results: readonly CaseResult[]): Record<string, string | number>[] {
  return results
    .filter(
      (r) =>
        r.group === 'compare' &&
        r.payload === 'bytes' &&
        r.callsPerSec !== undefined &&
        r.mode.kind === 'closed',
    )
    .map((r) => ({
      stack: stackLabel(r.stack, r.codec, r.client.variant),
      payload: sizeLabel(r.payload, r.size),
      inFlight: r.mode.kind === 'closed' ? r.mode.concurrency : 0,
      calls: Math.round(r.callsPerSec?.median ?? 0),
      min: Math.round(r.callsPerSec?.min ?? 0),
      max: Math.round(r.callsPerSec?.max ?? 0),
      p50: r.p50?.median ?? 0,
      p90: r.p90?.median ?? 0,
      p99: r.p99?.median ?? 0,
      p999: r.p999?.median ?? 0,
      clientCpu: r.clientCpuUsPerCall?.median ?? 0,
      serverCpu: r.serverCpuUsPerCall?.median ?? 0,
    }))
    .filter((p) => MAIN.includes(p.stack as string));
}

const stackColor = { field: 'stack', type: 'nominal', sort: MAIN, title: 'stack' } as const;

function throughputSpec(values: Record<string, string | number>[]): TopLevelSpec {
  return {
    $schema: SCHEMA,
    title: 'Throughput per stack (closed loop, calls/s on a log scale, median of rounds, lines = min–max)',
    data: { values },
    facet: { column: { field: 'payload', type: 'nominal', title: 'payload', sort: ['64B', '1KiB'] } },
    spec: {
      width: 320,
      height: 260,
      encoding: {
        x: { field: 'inFlight', type: 'ordinal', title: 'calls in flight', axis: { labelAngle: 0 } },
        xOffset: { field: 'stack', type: 'nominal', sort: MAIN },
        color: stackColor,
      },
      layer: [
        // Bars on a log scale need an explicit base.
        {
          mark: 'bar',
          encoding: {
            y: { field: 'calls', type: 'quantitative', title: 'calls/s', scale: LOG },
            y2: { datum: 100 },
          },
        },
        {
          mark: { type: 'rule', color: 'black' },
          encoding: { y: { field: 'min', type: 'quantitative', scale: LOG }, y2: { field: 'max' } },
        },
      ],
    },
  } as TopLevelSpec;
}

function latencySpec(values: Record<string, string | number>[], payload: string): TopLevelSpec {
  const rows = values
    .filter((v) => v.payload === payload && (v.inFlight === 1 || v.inFlight === 64))
    .flatMap((v) =>
      (['p50', 'p90', 'p99', 'p999'] as const).map((p) => ({
        stack: v.stack,
        inFlight: `${v.inFlight} in flight`,
        percentile: p,
        us: v[p],
      })),
    );
  return {
    $schema: SCHEMA,
    title: `Latency percentiles per stack, ${payload} (µs, log scale, median of rounds)`,
    data: { values: rows },
    facet: {
      column: { field: 'inFlight', type: 'nominal', title: null, sort: ['1 in flight', '64 in flight'] },
    },
    spec: {
      width: 320,
      height: 260,
      mark: 'bar',
      encoding: {
        x: {
          field: 'percentile',
          type: 'ordinal',
          sort: ['p50', 'p90', 'p99', 'p999'],
          title: null,
          axis: { labelAngle: 0 },
        },
        xOffset: { field: 'stack', type: 'nominal', sort: MAIN },
        y: { field: 'us', type: 'quantitative', scale: { type: 'log' }, title: 'µs' },
        y2: { datum: 1 },
        color: stackColor,
      },
    },
  } as TopLevelSpec;
}

function cpuSpec(values: Record<string, string | number>[]): TopLevelSpec {
  const rows = values
    .filter((v) => v.payload === '64B' && v.inFlight === 64)
    .flatMap((v) => [
      { stack: v.stack, side: 'client', us: v.clientCpu },
      { stack: v.stack, side: 'server', us: v.serverCpu },
    ]);
  return {
    $schema: SCHEMA,
    title: 'CPU per call, 64 B, 64 in flight (µs on a log scale, user+system, median of rounds)',
    data: { values: rows },
    width: 360,
    height: 240,
    mark: 'bar',
    encoding: {
      x: { field: 'stack', type: 'nominal', sort: MAIN, title: null, axis: { labelAngle: 0 } },
      xOffset: { field: 'side', type: 'nominal' },
      y: { field: 'us', type: 'quantitative', title: 'µs per call', scale: { type: 'log' } },
      y2: { datum: 0.1 },
      color: { field: 'side', type: 'nominal', title: 'process' },
    },
  } as TopLevelSpec;
}

/** Writes the report's charts as SVG into `dir` and returns them in report order. */
export async function writeCharts(results: readonly CaseResult[], dir: string): Promise<Chart[]> {
  const values = comparePoints(results);
  if (values.length === 0) return [];
  mkdirSync(dir, { recursive: true });
  const charts: [string, string, TopLevelSpec][] = [
    ['throughput.svg', 'Throughput per stack', throughputSpec(values)],
    ['latency-64B.svg', 'Latency percentiles per stack, 64 B', latencySpec(values, '64B')],
    ['latency-1KiB.svg', 'Latency percentiles per stack, 1 KiB', latencySpec(values, '1KiB')],
    ['cpu-per-call.svg', 'CPU per call per stack', cpuSpec(values)],
  ];
  const out: Chart[] = [];
  for (const [file, title, spec] of charts) {
    writeFileSync(`${dir}/${file}`, await renderSvg(spec));
    out.push({ file, title });
  }
  return out;
}
