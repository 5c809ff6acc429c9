// mini-rpc's guided tour: one command, four sections, everything on 127.0.0.1, nothing to set up.
//   pnpm helloworld                                   (from the repository root)
//   node dist/main.js --only discovery --registry etcd://127.0.0.1:2379
import { basics } from './basics.js';
import { parseMainOptions, USAGE } from './cli-options.js';
import { discovery } from './discovery.js';
import { observability } from './observability.js';
import { resilience } from './resilience.js';

// A tour that hangs is a bug: say so and stop rather than wait forever.
const WATCHDOG_MS = 60_000;

async function main(): Promise<number> {
  let options: ReturnType<typeof parseMainOptions>;
  try {
    options = parseMainOptions(process.argv.slice(2), process.env);
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    console.log(USAGE);
    return 0;
  }
  // Exit through process.exit so that 'exit' handlers run: they kill the child instance of section 3.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`\nhelloworld: ${signal}, stopping`);
      process.exit(130);
    });
  }
  const watchdog = setTimeout(() => {
    console.error(`helloworld: still running after ${WATCHDOG_MS / 1000} s, giving up`);
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();
  const t0 = performance.now();
  console.log(`mini-rpc helloworld: ${options.sections.join(', ')} (registry: ${options.registry})`);
  for (const section of options.sections) {
    if (section === 'basics') await basics();
    else if (section === 'discovery') await discovery(options.registry, options.calls);
    else if (section === 'resilience') await resilience(options.registry);
    else await observability();
  }
  clearTimeout(watchdog);
  console.log(`\ndone in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error('helloworld failed:', err);
    process.exitCode = 1;
  },
);
