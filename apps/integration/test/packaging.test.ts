import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../../tooling/pack-test.mjs', import.meta.url));
// The script keeps its own 110 s budget; this bound only catches a script that ignores it.
const TIMEOUT_MS = 120_000;

interface Result {
  code: number | null;
  out: string;
  err: string;
}

function runPackTest(): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    // SIGTERM lets the script kill npm and remove its temp dir; SIGKILL if it does not exit soon after.
    let killer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    }, TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      clearTimeout(killer);
      resolve({ code, out, err });
    });
  });
}

describe('packaging', () => {
  it(
    'installs the packed tarballs with plain npm and calls a server from ESM and CJS consumers',
    async () => {
      const { code, out, err } = await runPackTest();
      expect(code, `pack-test failed:\n${out}\n${err}`).toBe(0);
      expect(out).toContain('esm: call=3 proxy=3 instanceof=ok');
      expect(out).toContain('cjs: call=3 proxy=3 instanceof=ok');
      expect(out).toMatch(/^pack-test: ok, \d+ packages/m);
    },
    TIMEOUT_MS + 10_000,
  );
});
