/** The command line of `pnpm bench -- [flags]`. */
export interface BenchArgs {
  /** `--quick`: one short round (smoke run). */
  readonly quick: boolean;
  /** `--only=a,b`: run only load cases whose id contains one of these (case-insensitive). */
  readonly only: readonly string[];
  /** `--rounds=N`: override the number of rounds. */
  readonly rounds: number | undefined;
  /** `--skip-micro`: do not run the micro benchmarks first. */
  readonly skipMicro: boolean;
  /** `--cpu-prof`: children write V8 CPU profiles to `profiles/`. */
  readonly cpuProf: boolean;
  /** `--list`: print the case ids and exit. */
  readonly list: boolean;
  /** `--out=<dir>`: write results, report and charts there instead of the bench directory (tests). */
  readonly out: string | undefined;
  /** `--render`: run nothing; re-render REPORT.md and the charts from results/latest.json. */
  readonly render: boolean;
  /** `--node-flag=<flag>` (repeatable): extra Node/V8 flags for the server and client processes, e.g. `--trace-gc`. */
  readonly nodeFlags: readonly string[];
  /**
   * `--open-rate=N`: the open-loop cases run at N calls/s (one case per stack, `… open @N/s`) instead of at half
   * of a measured maximum; for latency at a load of your choosing. The open-loop target is not judged.
   */
  readonly openRate: number | undefined;
}

/** Parses the flags; throws a TypeError naming an unknown flag (so a typo never silently runs everything). */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let quick = false;
  let only: string[] = [];
  let rounds: number | undefined;
  let skipMicro = false;
  let cpuProf = false;
  let list = false;
  let out: string | undefined;
  let render = false;
  const nodeFlags: string[] = [];
  let openRate: number | undefined;
  for (const arg of argv) {
    if (arg === '--') continue;
    if (arg === '--quick') quick = true;
    else if (arg === '--skip-micro') skipMicro = true;
    else if (arg === '--cpu-prof') cpuProf = true;
    else if (arg === '--list') list = true;
    else if (arg === '--render') render = true;
    else if (arg.startsWith('--out=')) out = arg.slice(6);
    else if (arg.startsWith('--node-flag=--')) nodeFlags.push(arg.slice(12));
    else if (arg.startsWith('--only='))
      only = arg
        .slice(7)
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean);
    else if (arg.startsWith('--open-rate=')) {
      openRate = Number(arg.slice(12));
      if (!Number.isInteger(openRate) || openRate < 1 || openRate > 10_000_000)
        throw new TypeError(`--open-rate must be an integer of calls/s in 1…10,000,000, got ${arg}`);
    } else if (arg.startsWith('--rounds=')) {
      rounds = Number(arg.slice(9));
      if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20)
        throw new TypeError(`--rounds must be 1…20, got ${arg}`);
    } else
      throw new TypeError(
        `unknown flag ${arg} (known: --quick --only=<substr,…> --rounds=N --open-rate=N --skip-micro --cpu-prof --list --render --out=<dir> --node-flag=--<flag>)`,
      );
  }
  return { quick, only, rounds, skipMicro, cpuProf, list, out, render, nodeFlags, openRate };
}
