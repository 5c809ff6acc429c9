import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from './processes.js';
import { DIST, killAll, run } from './processes.js';

// `pnpm helloworld` as a user runs it: the built app, every section, the default (memory) registry.
let tour: RunResult;

/** The lines of one section: from its heading to the next. */
function section(title: string): string[] {
  const lines = tour.stdout.split('\n');
  const start = lines.indexOf(`== ${title} ==`);
  if (start < 0) return [];
  const end = lines.findIndex((l, i) => i > start && l.startsWith('== '));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** The first line of `lines` matching `re`, as a match (fails the test when there is none). */
function find(lines: readonly string[], re: RegExp): RegExpExecArray {
  for (const line of lines) {
    const m = re.exec(line);
    if (m !== null) return m;
  }
  throw new Error(`no line matches ${re}:\n${lines.join('\n')}`);
}

beforeAll(async () => {
  if (!existsSync(`${DIST}main.js`)) throw new Error(`${DIST}main.js is missing: run the build first`);
  tour = await run('main.js', [], 60_000);
}, 65_000);
afterAll(killAll);

describe('pnpm helloworld (node dist/main.js)', () => {
  it('exits 0 within 30 s with nothing on stderr', () => {
    expect(tour.stderr).toBe('');
    expect(tour.signal).toBeNull();
    expect(tour.code).toBe(0);
    expect(tour.ms).toBeLessThan(30_000);
    expect(tour.stdout).toMatch(/^done in [\d.]+ s$/m);
  });

  it('prints the four sections in order', () => {
    const headings = tour.stdout.split('\n').filter((l) => l.startsWith('== '));
    expect(headings).toEqual([
      '== 1. One call, end to end ==',
      '== 2. Service discovery and load balancing ==',
      '== 3. Resilience ==',
      '== 4. Observability and security ==',
    ]);
  });

  it('1: calls in each codec, through the typed proxy and go(), with errors and a deadline', () => {
    const lines = section('1. One call, end to end');
    for (const codec of ['json', 'msgpack', 'protobuf'])
      find(lines, new RegExp(`codec ${codec} .* -> "Hello, Ada!"`));
    find(lines, /typed proxy .* -> "Good day, Countess Lovelace\."/);
    find(lines, /go\(\) .* after await call\.done: Hello, Alan! Hello, Grace! Hello, Edsger!/);
    find(lines, /unknown method +NotFound: unknown method 'Greeter\.goodbye'/);
    find(lines, /unknown service +NotFound: unknown service 'Farewell'/);
    find(
      lines,
      /RpcError thrown +InvalidArgument: a formal greeting needs a title details \{"field":"title"\}/,
    );
    const late = find(lines, /timeout 150 ms -> DeadlineExceeded after (\d+) ms/);
    expect(Number(late[1])).toBeGreaterThanOrEqual(140);
    expect(Number(late[1])).toBeLessThan(1_500);
    find(lines, /the server aborted ctx\.signal and the handler stopped: yes/);
  });

  it('2: three instances found by name; 30,000 calls per balancer, none failed', () => {
    const lines = section('2. Service discovery and load balancing');
    find(lines, /discover\('Greeter'\) finds 3 instances/);
    const row = (name: string): number[] => {
      const m = find(lines, new RegExp(`^  ${name} +(?:yes|no) +(\\d+) +(\\d+) +(\\d+) +(\\d+) `));
      return m.slice(1, 5).map(Number);
    };
    expect(row('round-robin')).toEqual([10_000, 10_000, 10_000, 0]);
    // Weights 5:1:1: 4285 full cycles of 7, then a a b a c.
    expect(row('smooth-weighted')).toEqual([21_428, 4_286, 4_286, 0]);
    for (const name of [
      'random \\(weighted\\)',
      'consistent-hash by user',
      'least-connections',
      'p2c \\(peak EWMA\\)',
    ]) {
      const [a = 0, b = 0, c = 0, failed] = row(name);
      expect(a + b + c).toBe(30_000);
      expect(failed).toBe(0);
    }
    const [a = 0] = row('random \\(weighted\\)');
    expect(Math.abs(a / 30_000 - 5 / 7)).toBeLessThan(0.03);
    find(lines, /consistent-hash: 1000 users, 0 of them reached more than one instance/);
  });

  it('3: a killed instance, a failing one and a graceful shutdown cost no call', () => {
    const lines = section('3. Resilience');
    const results = lines.map((l) => /(\d+) calls, failed = (\d+)/.exec(l)).filter((m) => m !== null);
    expect(results.map((m) => Number(m[2]))).toEqual([0, 0, 0, 0]);
    const kill = lines.findIndex((l) => l.includes('[kill]'));
    find(lines.slice(kill), /killed c \(pid \d+\) after 3000 calls/);
    expect(find(lines.slice(kill), /(\d+) calls, failed = (\d+)/).slice(1)).toEqual(['9000', '0']);
    const graceful = lines.findIndex((l) => l.includes('[graceful]'));
    expect(find(lines.slice(graceful), /(\d+) calls, failed = (\d+)/).slice(1)).toEqual(['9000', '0']);
  });

  it('3: the failing instance trips its breaker, which closes again once it recovers', () => {
    const lines = section('3. Resilience');
    const changes = lines
      .map((l) => /breaker of c: (\S+) -> (\S+)$/.exec(l))
      .filter((m) => m !== null)
      .map((m) => `${m[1]} -> ${m[2]}`);
    const open = changes.indexOf('closed -> open');
    const halfOpen = changes.indexOf('open -> half-open', open);
    const closed = changes.indexOf('half-open -> closed', halfOpen);
    expect([open >= 0, halfOpen > open, closed > halfOpen]).toEqual([true, true, true]);
    const recovered = find(
      lines,
      /after recovery: 1500 calls, failed = 0, served: a (\d+), b (\d+), c (\d+)/,
    );
    expect(Number(recovered[3])).toBeGreaterThan(400);
    find(lines, /breaker of c is closed/);
  });

  it('4: calls without a valid token are Unauthenticated, a burst gets ResourceExhausted', () => {
    const lines = section('4. Observability and security');
    find(lines, /no token +-> Unauthenticated: missing credentials/);
    find(lines, /token signed elsewhere -> Unauthenticated: invalid credentials/);
    const burst = find(lines, /a burst of 100 calls at once: (\d+) OK, (\d+) refused with ResourceExhausted/);
    expect(Number(burst[1]) + Number(burst[2])).toBe(100);
    expect(Number(burst[2])).toBeGreaterThan(0);
    find(lines, /^ {4}log \{.*"code":"ResourceExhausted"/);
  });

  it('4: the scraped request counters equal the calls the app made', () => {
    const lines = section('4. Observability and security');
    const made = new Map<string, number>();
    const scraped = new Map<string, number>();
    for (const line of lines) {
      const m = /^ {4}made Greeter\.hello code=(\w+) (\d+)$/.exec(line);
      if (m !== null) made.set(m[1] as string, Number(m[2]));
      const s =
        /^ {4}mini_rpc_server_requests_total\{service="Greeter",method="hello",code="(\w+)"\} (\d+)$/.exec(
          line,
        );
      if (s !== null) scraped.set(s[1] as string, Number(s[2]));
    }
    expect([...made.keys()].sort()).toEqual(['OK', 'ResourceExhausted', 'Unauthenticated']);
    expect(scraped).toEqual(made);
    expect(made.get('Unauthenticated')).toBe(2);
  });
});
