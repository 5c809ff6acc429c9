import {
  consistentHash,
  leastConnections,
  metadataKey,
  p2c,
  roundRobin,
  smoothWeightedRoundRobin,
  weightedRandom,
} from '@mini-rpc/balancer';
import { createClient } from '@mini-rpc/client';
import type { Balancer, Registry } from '@mini-rpc/protocol';
import type { GreeterInstance } from './cluster.js';
import { resetServed, startGreeters, stopGreeters } from './cluster.js';
import type { Greeter } from './greeter.js';
import { runLoad } from './load.js';
import { openRegistry } from './open-registry.js';
import { heading, say, seconds, table } from './print.js';

const NAMES = ['a', 'b', 'c'] as const;
const WEIGHTS = [5, 1, 1] as const;
const USERS = 1_000;

interface Choice {
  readonly label: string;
  readonly weights: boolean;
  readonly make: () => Balancer;
}

const BALANCERS: readonly Choice[] = [
  { label: 'round-robin', weights: false, make: roundRobin },
  { label: 'smooth-weighted', weights: true, make: smoothWeightedRoundRobin },
  { label: 'random (weighted)', weights: true, make: weightedRandom },
  {
    label: 'consistent-hash by user',
    weights: true,
    make: () => consistentHash({ key: metadataKey('x-user') }),
  },
  { label: 'least-connections', weights: true, make: leastConnections },
  { label: 'p2c (peak EWMA)', weights: false, make: p2c },
];

/**
 * Section 2: three instances of the decorated Greeter register under one name; a client that knows only
 * the name discovers them and spreads `calls` calls per balancer over them.
 */
export async function discovery(registryUrl: string, calls: number): Promise<void> {
  heading('2. Service discovery and load balancing');
  const { registry, label } = openRegistry(registryUrl);
  const instances = await startGreeters(registry, NAMES, { weights: WEIGHTS });
  try {
    say(`registry: ${label}`);
    for (const [n, i] of instances.entries()) say(`instance ${i.name}: ${i.id}, weight ${WEIGHTS[n]}`);
    const found = await registry.discover('Greeter');
    say(`discover('Greeter') finds ${found.length} instances; the client knows only the name`);
    say(`${calls} calls per balancer, 64 in flight; calls each instance served:`);
    const rows: string[][] = [];
    const notes: string[] = [];
    for (const choice of BALANCERS) {
      const { row, note } = await spread(choice, registry, instances, calls);
      rows.push(row);
      if (note !== undefined) notes.push(note);
    }
    table(['balancer', 'weights', ...NAMES.map((n, i) => `${n} (w${WEIGHTS[i]})`), 'failed', 'time'], rows);
    say('round robin and p2c ignore weights; the others follow the 5:1:1 announced in the registry');
    for (const note of notes) say(note);
  } finally {
    await stopGreeters(instances);
    await registry.close();
  }
}

/** Runs `calls` calls through a new client with `choice`'s balancer; one table row, and a note if any. */
async function spread(
  choice: Choice,
  registry: Registry,
  instances: readonly GreeterInstance[],
  calls: number,
): Promise<{ row: string[]; note?: string }> {
  resetServed(instances);
  const client = createClient({ registry, balancer: choice.make() });
  const greeter = client.service<Greeter>('Greeter');
  // Which instances each user reached: one each, under consistent hashing.
  const homes = new Map<string, Set<string>>();
  try {
    const result = await runLoad(
      async (i) => {
        const user = `user-${i % USERS}`;
        const reply = await greeter.hello({ name: user }, { metadata: { 'x-user': user } });
        const seen = homes.get(user) ?? new Set<string>();
        seen.add(reply.from);
        homes.set(user, seen);
      },
      { total: calls, concurrency: 64 },
    );
    const row = [
      choice.label,
      choice.weights ? 'yes' : 'no',
      ...instances.map((i) => String(i.greeter.served)),
      String(result.failed),
      seconds(result.elapsedMs),
    ];
    const errors = Object.entries(result.errors).map(([code, n]) => `${n} ${code}`);
    if (errors.length > 0) return { row, note: `${choice.label} failures: ${errors.join(', ')}` };
    if (!choice.label.startsWith('consistent-hash')) return { row };
    const moved = [...homes.values()].filter((s) => s.size > 1).length;
    return {
      row,
      note: `consistent-hash: ${homes.size} users, ${moved} of them reached more than one instance`,
    };
  } finally {
    await client.close();
  }
}
