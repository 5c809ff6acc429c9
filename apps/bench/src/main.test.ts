import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { CaseResult, RunResult } from './load/case-spec.js';

const dist = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'mini-rpc-bench-'));

afterAll(() => rmSync(out, { recursive: true, force: true }));

/** Percentiles can only grow along the distribution, and every figure must be a finite positive number. */
function expectSane(run: RunResult): void {
  const l = run.latency;
  expect(run.calls).toBeGreaterThan(0);
  expect(run.callsPerSec).toBeGreaterThan(0);
  expect(run.errors).toBe(0);
  expect(l.count).toBe(run.calls);
  expect(l.p50).toBeGreaterThan(0);
  expect(l.p50).toBeLessThanOrEqual(l.p90);
  expect(l.p90).toBeLessThanOrEqual(l.p99);
  expect(l.p99).toBeLessThanOrEqual(l.p999);
  expect(l.p999).toBeLessThanOrEqual(l.max);
  expect(run.clientCpuUsPerCall).toBeGreaterThan(0);
  expect(run.serverCpuUsPerCall).toBeGreaterThan(0);
  expect(run.perInstance[0]).toBeGreaterThan(0);
}

describe('pnpm bench -- --quick (smoke)', () => {
  it('runs one small case per stack in separate processes and writes sane results, a report and charts', () => {
    const run = spawnSync(
      process.execPath,
      [dist, '--quick', '--skip-micro', '--only=64B C=16', `--out=${out}`],
      { encoding: 'utf8', timeout: 45_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/\[5\/5\] round 1\/1/);
    const latest = JSON.parse(readFileSync(join(out, 'results/latest.json'), 'utf8')) as {
      mode: string;
      machine: { command: string; cores: number; node: string };
      results: CaseResult[];
    };
    expect(latest.mode).toBe('quick');
    expect(latest.machine.command).toBe(`pnpm bench -- --quick --skip-micro --only=64B C=16 --out=${out}`);
    expect(latest.machine.node).toBe(process.version);
    expect(latest.results.map((r) => r.stack).sort()).toEqual([
      'bare',
      'grpc',
      'http',
      'mini-rpc',
      'moleculer',
    ]);
    for (const result of latest.results) {
      expect(result.failed, result.id).toBeUndefined();
      expect(result.runs).toHaveLength(1);
      expectSane(result.runs[0] as RunResult);
    }
    const report = readFileSync(join(out, 'REPORT.md'), 'utf8');
    expect(report).toContain('pnpm bench -- --quick');
    expect(report).toContain('](charts/throughput.svg)');
    expect(readFileSync(join(out, 'charts/throughput.svg'), 'utf8')).toMatch(/^<svg/);
  }, 50_000);

  it('pins the one-core cases: client and server see one core, and the report sets them beside two cores', () => {
    const dir = join(out, 'one-core');
    const run = spawnSync(
      process.execPath,
      [dist, '--quick', '--skip-micro', '--only=bare 64B C=1,mini-rpc msgpack 64B C=1', `--out=${dir}`],
      { encoding: 'utf8', timeout: 45_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    const latest = JSON.parse(readFileSync(join(dir, 'results/latest.json'), 'utf8')) as {
      results: CaseResult[];
    };
    // --only matches substrings: the C=16 cases come along, and are left out here.
    const seen = latest.results
      .filter((r) => !r.id.includes('C=16'))
      .map((r) => [r.id, r.runs[0]?.cores, r.runs[0]?.serverCores]);
    const all = availableParallelism();
    expect(seen).toEqual([
      ['bare 64B C=1', all, [all]],
      ['mini-rpc msgpack 64B C=1', all, [all]],
      ['bare 64B C=1 one core', 1, [1]],
      ['mini-rpc msgpack 64B C=1 one core', 1, [1]],
    ]);
    for (const result of latest.results) expectSane(result.runs[0] as RunResult);
    const report = readFileSync(join(dir, 'REPORT.md'), 'utf8');
    expect(report).toContain('## 1 in flight on one core (client and server pinned to CPU 0 with taskset)');
    expect(report).toContain(
      'Every run checked that its client and server saw the cores they were pinned to',
    );
    expect(report).toMatch(/\| mini-rpc msgpack \| [\d,]+ \| [\d,]+ \|/);
  }, 50_000);

  it('runs the open loop at a rate fixed with --open-rate and does not judge the issue target then', () => {
    const dir = join(out, 'open-rate');
    const run = spawnSync(
      process.execPath,
      [
        dist,
        '--quick',
        '--skip-micro',
        '--open-rate=2000',
        '--only=bare 64B open,mini-rpc msgpack 64B open',
        `--out=${dir}`,
      ],
      { encoding: 'utf8', timeout: 45_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    const latest = JSON.parse(readFileSync(join(dir, 'results/latest.json'), 'utf8')) as {
      results: CaseResult[];
      targets: { figure: string; pass?: boolean }[];
    };
    expect(latest.results.map((r) => r.id)).toEqual([
      'bare 64B open @2000/s',
      'mini-rpc msgpack 64B open @2000/s',
    ]);
    for (const result of latest.results) {
      expect(result.failed, result.id).toBeUndefined();
      const r = result.runs[0] as RunResult;
      expect(r.offeredRate).toBe(2000);
      // Client on CPU 0, server on CPU 1: each saw one core.
      expect([r.cores, r.serverCores]).toEqual([1, [1]]);
      // The window is short (quick mode) but the rate is kept: achieved within 20 % of offered.
      expect(Math.abs(r.callsPerSec - 2000)).toBeLessThan(400);
    }
    const openTarget = latest.targets.find((t) => t.figure.startsWith('mini-rpc p99, open loop'));
    expect(openTarget?.pass).toBeUndefined();
    const report = readFileSync(join(dir, 'REPORT.md'), 'utf8');
    expect(report).toContain('fixed on the command line (`--open-rate`)');
    // The server's CPU per call and busy share: 2,000 calls/s keep it busy well under half its core.
    const row = report.split('\n').find((l) => l.startsWith('| mini-rpc msgpack 64B open @2000/s |'));
    const busy = /\| [\d.,]+ \((\d+) %\) \|/.exec(row ?? '');
    expect(busy, row).not.toBeNull();
    expect(Number(busy?.[1])).toBeLessThan(50);
  }, 50_000);

  it('times the codec after each run of the ~1 KiB order case and holds its calls/s against that cost', () => {
    const dir = join(out, 'order');
    const run = spawnSync(
      process.execPath,
      [dist, '--quick', '--skip-micro', '--only=mini-rpc msgpack order~1KiB', `--out=${dir}`],
      { encoding: 'utf8', timeout: 45_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    const latest = JSON.parse(readFileSync(join(dir, 'results/latest.json'), 'utf8')) as {
      results: CaseResult[];
      targets: { figure: string; measured?: { median: number }; pass?: boolean }[];
    };
    expect(latest.results.map((r) => r.id)).toEqual(['mini-rpc msgpack order~1KiB C=64']);
    const r = latest.results[0]?.runs[0] as RunResult;
    expectSane(r);
    // A real encode+decode of ~800 bytes: well above the timer's resolution, well below a millisecond.
    expect(r.codecUsPerCall).toBeGreaterThan(0.5);
    expect(r.codecUsPerCall).toBeLessThan(1000);
    const row = latest.targets.find((t) => t.figure.endsWith('codec timed right after each run'));
    expect(row?.measured?.median).toBeCloseTo((r.callsPerSec * (r.codecUsPerCall ?? 0)) / 1e6, 6);
    expect(row?.pass).toBeTypeOf('boolean');
  }, 50_000);

  it("writes the micro results to --results-dir, leaving the app's own alone", () => {
    const own = fileURLToPath(new URL('../results/micro.json', import.meta.url));
    const before = existsSync(own) ? statSync(own).mtimeMs : undefined;
    const dir = join(out, 'micro');
    const micro = fileURLToPath(new URL('../dist/micro-main.js', import.meta.url));
    const run = spawnSync(process.execPath, [micro, '--quick', `--results-dir=${dir}`], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status, run.stderr).toBe(0);
    const written = JSON.parse(readFileSync(join(dir, 'micro.json'), 'utf8')) as {
      quick: boolean;
      tasks: unknown[];
    };
    expect(written.quick).toBe(true);
    expect(written.tasks.length).toBeGreaterThan(0);
    expect(existsSync(own) ? statSync(own).mtimeMs : undefined).toBe(before);
  }, 70_000);
});
