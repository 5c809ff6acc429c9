#!/usr/bin/env node
// Packaging test (DESIGN.md §10): packs every published package with `pnpm pack` (which turns `workspace:^`
// into real versions), installs the tarballs with plain npm into a fresh project outside the workspace, and
// runs an ESM and a CJS consumer there that each start a server, make calls and check that `RpcError`'s
// `instanceof` holds across the ESM and CJS copies of @mini-rpc/protocol. Packages must be built first.
// Every child process has a timeout and the whole run a budget; any failure exits 1 with the reason.
// Usage: node tooling/pack-test.mjs [--keep]   (--keep leaves the temp directory for inspection)
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const keep = process.argv.includes('--keep');
const BUDGET_MS = Number(process.env.PACK_TEST_BUDGET_MS ?? 110_000);
const deadline = Date.now() + BUDGET_MS;
const STEP_MS = { pack: 60_000, init: 30_000, install: 100_000, consumer: 20_000 };
// Files a published tarball may hold besides its build output.
const ALLOWED_EXTRA = new Set(['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md']);

class Failure extends Error {}
const active = new Set();
const timings = [];
let work;

function fail(message) {
  throw new Failure(message);
}

function packages() {
  const dir = join(root, 'packages');
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'package.json')))
    .map((e) => ({
      dir: join(dir, e.name),
      manifest: JSON.parse(readFileSync(join(dir, e.name, 'package.json'), 'utf8')),
    }))
    .filter((p) => p.manifest.private !== true);
}

// The environment of a plain npm user: drop what `pnpm run` injects (npm 11 warns on unknown env configs).
function consumerEnv() {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_(package|lifecycle)_|npm_command$|npm_execpath$|npm_node_execpath$|pnpm_)/i.test(key))
      continue;
    if (/^npm_config_(user_agent|verify_deps_before_run)$/i.test(key)) continue;
    env[key] = value;
  }
  return env;
}

function tail(text, lines = 30) {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Runs a command with a timeout (the step's, capped by what is left of the budget); kills its process group. */
function run(label, cmd, args, { cwd, env = process.env, timeoutMs }) {
  const limit = Math.min(timeoutMs, deadline - Date.now());
  if (limit <= 0) fail(`${label}: no time left in the ${BUDGET_MS} ms budget`);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    active.add(child);
    let out = '';
    let err = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d) => {
      err += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, limit);
    child.on('error', (e) => {
      clearTimeout(timer);
      active.delete(child);
      reject(new Failure(`${label}: could not start \`${cmd}\`: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      active.delete(child);
      const ms = Math.round(performance.now() - started);
      const output = tail(`${out}\n${err}`);
      if (timedOut) return reject(new Failure(`${label}: timed out after ${limit} ms\n${output}`));
      const command = `${cmd} ${args.join(' ')}`;
      if (code !== 0)
        return reject(new Failure(`${label}: \`${command}\` exited with ${code ?? signal}\n${output}`));
      timings.push(`${label} ${(ms / 1000).toFixed(1)}s`);
      resolve({ out, err });
    });
  });
}

function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Every file a manifest points at (main, module, types, and each string in `exports`), relative to the package. */
function entryFiles(manifest) {
  const found = new Set();
  const visit = (v) => {
    if (typeof v === 'string') found.add(v.replace(/^\.\//, ''));
    else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) visit(x);
  };
  visit([manifest.main, manifest.module, manifest.types, manifest.typings, manifest.exports].filter(Boolean));
  return [...found].filter((f) => !f.includes('*'));
}

function checkTarballs(pkgs, packed) {
  const byName = new Map(packed.map((p) => [p.name, p]));
  const problems = [];
  const notes = [];
  for (const { manifest } of pkgs) {
    const entry = byName.get(manifest.name);
    if (entry === undefined) {
      problems.push(`${manifest.name}: pnpm pack produced no tarball`);
      continue;
    }
    const files = new Set(entry.files.map((f) => f.path));
    const missing = entryFiles(manifest).filter((f) => !files.has(f));
    if (missing.length > 0) {
      problems.push(
        `${manifest.name}: tarball lacks ${missing.join(', ')} (not built? run \`pnpm build\` first)`,
      );
    }
    const stray = [...files].filter((f) => !f.startsWith('dist/') && !ALLOWED_EXTRA.has(f));
    if (stray.length > 0)
      problems.push(`${manifest.name}: tarball ships unexpected files: ${stray.join(', ')}`);
    const tests = [...files].filter((f) => /\.(test|spec)\./.test(f));
    if (tests.length > 0) problems.push(`${manifest.name}: tarball ships tests: ${tests.join(', ')}`);
    if (!files.has('README.md')) notes.push(`note: ${manifest.name} has no README.md in its tarball`);
  }
  if (problems.length > 0) fail(`tarballs are broken:\n  ${problems.join('\n  ')}`);
  for (const n of notes) console.log(n);
}

function checkInstalled(consumer, pkgs) {
  const problems = [];
  for (const { manifest } of pkgs) {
    const dir = join(consumer, 'node_modules', ...manifest.name.split('/'));
    if (!existsSync(join(dir, 'package.json'))) {
      problems.push(`${manifest.name}: not installed at ${relative(consumer, dir)}`);
      continue;
    }
    const published = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
      for (const [dep, range] of Object.entries(published[field] ?? {})) {
        if (/^(workspace|link|file):/.test(range))
          problems.push(`${manifest.name}: ${field}.${dep} is "${range}"`);
      }
    }
    for (const f of entryFiles(published)) {
      if (!existsSync(join(dir, f))) problems.push(`${manifest.name}: installed package lacks ${f}`);
    }
  }
  // One copy of each workspace package: a nested copy would mean npm fetched a registry version instead.
  for (const { manifest } of pkgs) {
    for (const { manifest: other } of pkgs) {
      const nested = join(
        consumer,
        'node_modules',
        ...other.name.split('/'),
        'node_modules',
        ...manifest.name.split('/'),
      );
      if (existsSync(nested))
        problems.push(`${other.name} got its own copy of ${manifest.name} (version mismatch?)`);
    }
  }
  if (problems.length > 0) fail(`installed packages are broken:\n  ${problems.join('\n  ')}`);
}

const ESM_CONSUMER = `// An ESM consumer of the packed tarballs (written by tooling/pack-test.mjs).
import { createRequire } from 'node:module';
import { createClient } from '@mini-rpc/client';
import { Code, RpcError } from '@mini-rpc/protocol';
import { createServer, method, service, silentLogger } from '@mini-rpc/server';

for (const name of JSON.parse(process.argv[2])) await import(name);
if (typeof service !== 'function' || typeof method !== 'function') throw new Error('server lacks service/method');
const cjs = createRequire(import.meta.url)('@mini-rpc/protocol');
if (cjs.RpcError === RpcError) throw new Error('require() and import gave one copy of @mini-rpc/protocol; expected two');

const server = createServer({ logger: silentLogger });
server.addService({ add: ({ a, b }) => a + b }, { name: 'Arith' });
const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
const client = createClient({ address: '127.0.0.1:' + port });
try {
  const viaCall = await client.call('Arith', 'add', { a: 1, b: 2 });
  const viaProxy = await client.service('Arith').add({ a: 1, b: 2 });
  const err = await client.call('Arith', 'nope', {}).then(() => null, (e) => e);
  if (!(err instanceof RpcError) || err.code !== Code.NotFound) throw new Error('unknown method: ' + err);
  if (!(err instanceof cjs.RpcError)) throw new Error('an ESM RpcError is not instanceof the CJS RpcError');
  if (!(new cjs.RpcError(cjs.Code.Internal, 'x') instanceof RpcError)) {
    throw new Error('a CJS RpcError is not instanceof the ESM RpcError');
  }
  console.log('esm: call=' + viaCall + ' proxy=' + viaProxy + ' instanceof=ok');
} finally {
  await client.close();
  await server.close({ graceMs: 1000 });
}
`;

const CJS_CONSUMER = `// A CommonJS consumer of the packed tarballs (written by tooling/pack-test.mjs).
'use strict';
const { createClient } = require('@mini-rpc/client');
const { Code, RpcError } = require('@mini-rpc/protocol');
const { createServer, silentLogger } = require('@mini-rpc/server');

async function main() {
  for (const name of JSON.parse(process.argv[2])) require(name);
  const esm = await import('@mini-rpc/protocol');
  if (esm.RpcError === RpcError) throw new Error('require() and import gave one copy of @mini-rpc/protocol; expected two');
  const server = createServer({ logger: silentLogger });
  server.addService({ add: ({ a, b }) => a + b }, { name: 'Arith' });
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  const client = createClient({ address: '127.0.0.1:' + port });
  try {
    const viaCall = await client.call('Arith', 'add', { a: 1, b: 2 });
    const viaProxy = await client.service('Arith').add({ a: 1, b: 2 });
    const err = await client.call('Arith', 'nope', {}).then(() => null, (e) => e);
    if (!(err instanceof RpcError) || err.code !== Code.NotFound) throw new Error('unknown method: ' + err);
    if (!(err instanceof esm.RpcError)) throw new Error('a CJS RpcError is not instanceof the ESM RpcError');
    if (!(new esm.RpcError(esm.Code.Internal, 'x') instanceof RpcError)) {
      throw new Error('an ESM RpcError is not instanceof the CJS RpcError');
    }
    console.log('cjs: call=' + viaCall + ' proxy=' + viaProxy + ' instanceof=ok');
  } finally {
    await client.close();
    await server.close({ graceMs: 1000 });
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exitCode = 1;
});
`;

async function consumerRun(consumer, label, file, names) {
  const { out } = await run(label, process.execPath, [file, JSON.stringify(names)], {
    cwd: consumer,
    env: consumerEnv(),
    timeoutMs: STEP_MS.consumer,
  }).catch((e) => {
    // A consumer that printed its result but never exited left a handle open after close().
    throw e instanceof Failure && e.message.includes('timed out')
      ? new Failure(`${e.message}\n(did close() leave a handle open?)`)
      : e;
  });
  const line = out.split('\n').find((l) => l.startsWith(`${label}: `));
  if (line !== `${label}: call=3 proxy=3 instanceof=ok`) fail(`${label}: unexpected output:\n${tail(out)}`);
  console.log(line);
}

async function main() {
  const started = performance.now();
  const pkgs = packages();
  if (pkgs.length === 0) fail('no published packages under packages/');
  work = mkdtempSync(join(tmpdir(), 'mini-rpc-pack-'));
  if (!relative(root, work).startsWith('..')) fail(`temp dir ${work} is inside the workspace`);
  const tarballs = join(work, 'tarballs');
  const consumer = join(work, 'consumer');
  mkdirSync(tarballs);
  mkdirSync(consumer);

  const filters = pkgs.flatMap((p) => ['--filter', p.manifest.name]);
  const packArgs = ['-r', ...filters, 'pack', '--pack-destination', tarballs, '--json'];
  const { out } = await run('pack', 'pnpm', packArgs, { cwd: root, timeoutMs: STEP_MS.pack });
  let packed;
  try {
    packed = JSON.parse(out.slice(out.indexOf('[')));
  } catch (e) {
    fail(`pack: could not read pnpm pack --json output (${e.message}):\n${tail(out)}`);
  }
  checkTarballs(pkgs, packed);

  const env = consumerEnv();
  await run('npm init', 'npm', ['init', '-y'], { cwd: consumer, env, timeoutMs: STEP_MS.init });
  const installArgs = ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];
  await run('npm install', 'npm', [...installArgs, ...packed.map((p) => p.filename)], {
    cwd: consumer,
    env,
    timeoutMs: STEP_MS.install,
  });
  checkInstalled(consumer, pkgs);

  const names = pkgs.map((p) => p.manifest.name);
  writeFileSync(join(consumer, 'consumer.mjs'), ESM_CONSUMER);
  writeFileSync(join(consumer, 'consumer.cjs'), CJS_CONSUMER);
  await consumerRun(consumer, 'esm', 'consumer.mjs', names);
  await consumerRun(consumer, 'cjs', 'consumer.cjs', names);

  const total = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`pack-test: ok, ${pkgs.length} packages (${timings.join(', ')}; total ${total}s)`);
}

function cleanup() {
  for (const child of active) killGroup(child);
  if (work === undefined) return;
  if (keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.error(`pack-test: interrupted by ${signal}`);
    cleanup();
    process.exit(1);
  });
}

try {
  await main();
  cleanup();
} catch (e) {
  console.error(`pack-test: FAILED: ${e instanceof Failure ? e.message : (e?.stack ?? e)}`);
  cleanup();
  process.exit(1);
}
