import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (!entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * The crash test runs a child process on the built `dist` (as a user would); build it first when it is
 * missing or older than `src`, so that `pnpm --filter @mini-rpc/registry test` alone tests the current code.
 */
export function setup(): void {
  const dist = join(root, 'dist', 'index.js');
  if (existsSync(dist) && statSync(dist).mtimeMs >= newestSource(join(root, 'src'))) return;
  const build = spawnSync('pnpm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('building @mini-rpc/registry for the tests failed');
}
