import { parseArgs } from 'node:util';

/** The sections of the tour, in the order they run. */
export const SECTIONS = ['basics', 'discovery', 'resilience', 'observability'] as const;

/** One section of the tour. */
export type Section = (typeof SECTIONS)[number];

/** What the command line asked for. */
export interface MainOptions {
  /** Sections to run, in tour order. */
  readonly sections: readonly Section[];
  /** `memory` or an etcd URL such as `etcd://127.0.0.1:2379`. */
  readonly registry: string;
  /** Calls per balancer in the discovery section. */
  readonly calls: number;
}

const ALIASES: Record<string, Section> = {
  '1': 'basics',
  '2': 'discovery',
  '3': 'resilience',
  '4': 'observability',
  call: 'basics',
  security: 'observability',
};

export const USAGE = `usage: node dist/main.js [--only <sections>] [--registry memory|etcd://host:port] [--calls <n>]

  --only       comma-separated sections to run: ${SECTIONS.join(', ')} (or 1-4); default all
  --registry   where instances register; default memory, or $MINI_RPC_REGISTRY
  --calls      calls per balancer in the discovery section; default 30000`;

/**
 * The command-line arguments after the script, without a leading `--` (pnpm passes it on:
 * `pnpm run server -- --port 4000` runs `node dist/server.js -- --port 4000`).
 */
export function userArgs(argv: readonly string[] = process.argv.slice(2)): string[] {
  return argv[0] === '--' ? argv.slice(1) : [...argv];
}

/** Parses `argv` (without node and the script); throws TypeError on anything it does not know. */
export function parseMainOptions(argv: readonly string[], env: NodeJS.ProcessEnv): MainOptions | 'help' {
  const { values } = parseArgs({
    args: userArgs(argv),
    options: {
      only: { type: 'string', multiple: true },
      registry: { type: 'string' },
      calls: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) return 'help';
  let sections: Section[] = [...SECTIONS];
  if (values.only !== undefined) {
    const wanted = new Set(values.only.flatMap((v) => v.split(',')).map((v) => toSection(v.trim())));
    sections = SECTIONS.filter((s) => wanted.has(s));
  }
  const calls = Number(values.calls ?? 30_000);
  if (!Number.isInteger(calls) || calls < 1 || calls > 1_000_000)
    throw new TypeError(`--calls must be an integer from 1 to 1000000, not '${values.calls}'`);
  const registry = values.registry ?? env.MINI_RPC_REGISTRY ?? 'memory';
  if (registry !== 'memory' && !/^(etcds?|https?):\/\//.test(registry))
    throw new TypeError(`--registry must be 'memory' or an etcd URL (etcd://host:port), not '${registry}'`);
  return { sections, registry, calls };
}

function toSection(name: string): Section {
  const section = (SECTIONS as readonly string[]).includes(name) ? (name as Section) : ALIASES[name];
  if (section === undefined)
    throw new TypeError(`unknown section '${name}': choose from ${SECTIONS.join(', ')} (or 1-4)`);
  return section;
}
