import type { Balancer, PickInfo, ServiceInstance } from '@mini-rpc/protocol';
import { Code } from '@mini-rpc/protocol';

/** An instance of service `Svc` (or `name`) with the given id and weight. */
export function instance(id: string, weight = 1, name = 'Svc'): ServiceInstance {
  return { id, name, host: '127.0.0.1', port: 4000, weight, metadata: {} };
}

/** Instances `a`, `b`, `c`, … with the given weights. */
export function instances(...weights: number[]): ServiceInstance[] {
  return weights.map((w, i) => instance(String.fromCharCode(97 + i), w));
}

/** Pick information for a call of `service` (default `Svc`). */
export function info(service = 'Svc', metadata: Record<string, string> = {}, args: unknown = []): PickInfo {
  return { service, method: 'm', args, metadata };
}

/** A small seeded PRNG (mulberry32), so statistical tests are reproducible. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Picks `n` times and counts the picks per instance id. */
export function countPicks(
  balancer: Balancer,
  list: readonly ServiceInstance[],
  n: number,
): Map<string, number> {
  const counts = new Map<string, number>();
  const pickInfo = info();
  for (let i = 0; i < n; i++) {
    const id = balancer.pick(list, pickInfo).id;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** A controllable clock for balancers that take `now`. */
export interface FakeClock {
  t: number;
  readonly now: () => number;
}

export function fakeClock(start = 0): FakeClock {
  const clock: FakeClock = { t: start, now: () => clock.t };
  return clock;
}

/** Options for {@link simulate}. */
export interface Simulation {
  balancer: Balancer;
  clock: FakeClock;
  /** The instance list at time `t` (ms). */
  list: (t: number) => readonly ServiceInstance[];
  /** How long a call that starts on `target` at time `t` takes, in ms. */
  latency: (target: ServiceInstance, t: number) => number;
  /** How a call that starts on `target` at time `t` ends. Default OK. */
  outcome?: (target: ServiceInstance, t: number) => Code;
  calls: number;
  /** Open loop: one call starts every `intervalMs`, whatever is in flight. */
  intervalMs: number;
}

/**
 * Event-driven simulation of a client under load, on a fake clock: calls arrive every `intervalMs`, each
 * is picked, `onStart`ed and ends `latency` ms later with `onEnd` (in time order, before any later
 * arrival). Returns the id picked for each call, in order.
 */
export function simulate(sim: Simulation): string[] {
  const picks: string[] = [];
  const pending = new EndQueue();
  const pickInfo = info();
  for (let i = 0; i < sim.calls; i++) {
    const t = i * sim.intervalMs;
    for (let next = pending.peek(); next !== undefined && next.end <= t; next = pending.peek()) {
      pending.pop();
      sim.clock.t = next.end;
      sim.balancer.onEnd?.(next.target, { code: next.code, latencyMs: next.latency });
    }
    sim.clock.t = t;
    const target = sim.balancer.pick(sim.list(t), pickInfo);
    sim.balancer.onStart?.(target);
    const latency = sim.latency(target, t);
    pending.push({ end: t + latency, latency, target, code: sim.outcome?.(target, t) ?? Code.OK });
    picks.push(target.id);
  }
  return picks;
}

/**
 * Closed loop with one call at a time (a sequential client): the next call starts when the previous
 * ends, so every instance has 0 calls in flight at each pick.
 */
export function simulateSequential(sim: Omit<Simulation, 'intervalMs'>): string[] {
  const picks: string[] = [];
  const pickInfo = info();
  for (let i = 0; i < sim.calls; i++) {
    const target = sim.balancer.pick(sim.list(sim.clock.t), pickInfo);
    sim.balancer.onStart?.(target);
    const latency = sim.latency(target, sim.clock.t);
    sim.clock.t += latency;
    sim.balancer.onEnd?.(target, { code: Code.OK, latencyMs: latency });
    picks.push(target.id);
  }
  return picks;
}

/** Share of `id` among `picks[from..to)`. */
export function share(picks: readonly string[], id: string, from = 0, to = picks.length): number {
  let n = 0;
  for (let i = from; i < to; i++) if (picks[i] === id) n++;
  return n / (to - from);
}

interface Pending {
  end: number;
  latency: number;
  target: ServiceInstance;
  code: Code;
}

/** Binary min-heap of pending calls by end time. */
class EndQueue {
  readonly #heap: Pending[] = [];

  peek(): Pending | undefined {
    return this.#heap[0];
  }

  push(item: Pending): void {
    const heap = this.#heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.end <= item.end) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = item;
  }

  pop(): void {
    const heap = this.#heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const c = r < heap.length && heap[r]!.end < heap[l]!.end ? r : l;
      if (heap[c]!.end >= last.end) break;
      heap[i] = heap[c]!;
      i = c;
    }
    heap[i] = last;
  }
}

/**
 * Picks `calls` times on `list` and, after every `retryEvery`-th call, once more on the list without the
 * instance just picked, as the client does for a retry. Returns the first picks' ids, in order; throws if a
 * retry picks the instance it was to avoid.
 */
export function firstPicksWithRetries(
  balancer: Balancer,
  list: readonly ServiceInstance[],
  calls: number,
  retryEvery = 1,
): string[] {
  const first: string[] = [];
  for (let call = 0; call < calls; call++) {
    const picked = balancer.pick(list, info()).id;
    first.push(picked);
    if (call % retryEvery !== 0) continue;
    const retry = balancer.pick(
      list.filter((i) => i.id !== picked),
      info(),
    ).id;
    if (retry === picked) throw new Error(`call ${call}: the retry picked ${picked} again`);
  }
  return first;
}

/** How many times each id occurs in `ids`, in order of first appearance. */
export function tally(ids: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const id of ids) counts[id] = (counts[id] ?? 0) + 1;
  return counts;
}
