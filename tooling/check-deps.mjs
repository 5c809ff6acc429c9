#!/usr/bin/env node
// Keeps the layering of DESIGN.md §2 true: which workspace package may depend on which, no cycles, and no
// `node:*` imports in the runtime-neutral packages.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const ALLOWED = {
  '@mini-rpc/protocol': [],
  '@mini-rpc/codec': [],
  '@mini-rpc/transport': ['@mini-rpc/protocol'],
  '@mini-rpc/registry': ['@mini-rpc/protocol'],
  '@mini-rpc/balancer': ['@mini-rpc/protocol'],
  '@mini-rpc/resilience': ['@mini-rpc/protocol'],
  '@mini-rpc/middleware': ['@mini-rpc/protocol'],
  '@mini-rpc/server': ['@mini-rpc/protocol', '@mini-rpc/transport', '@mini-rpc/codec'],
  '@mini-rpc/client': ['@mini-rpc/protocol', '@mini-rpc/transport', '@mini-rpc/codec'],
};
const NODE_FREE = ['protocol', 'codec', 'balancer', 'resilience'];

const problems = [];
const graph = new Map();
for (const group of ['packages', 'apps']) {
  for (const dir of readdirSync(join(root, group))) {
    const pkg = JSON.parse(readFileSync(join(root, group, dir, 'package.json'), 'utf8'));
    const internal = Object.keys({
      ...pkg.dependencies,
      ...pkg.peerDependencies,
      ...pkg.devDependencies,
    }).filter((d) => d.startsWith('@mini-rpc/'));
    graph.set(pkg.name, internal);
    if (group === 'packages') {
      const allowed = ALLOWED[pkg.name];
      if (!allowed) problems.push(`${pkg.name}: not in the layer table of tooling/check-deps.mjs`);
      for (const d of internal)
        if (allowed && !allowed.includes(d)) problems.push(`${pkg.name} must not depend on ${d}`);
      if (pkg.private) problems.push(`${pkg.name}: packages are published; only apps are private`);
    } else {
      if (!pkg.private) problems.push(`${pkg.name}: apps must be private`);
    }
    for (const d of internal) {
      if (graph.has(d) === false && !ALLOWED[d] && !d.startsWith('@mini-rpc/'))
        problems.push(`${pkg.name}: unknown ${d}`);
    }
  }
}
// Apps are leaves: nothing may import an app.
for (const [name, deps] of graph) {
  for (const d of deps) {
    const target = graph.get(d);
    if (target === undefined) problems.push(`${name} depends on ${d}, which is not in the workspace`);
    else if (!ALLOWED[d]) problems.push(`${name} depends on the app ${d}`);
  }
}
// Cycle check (depth-first search over the workspace graph).
const state = new Map();
const visit = (name, path) => {
  if (state.get(name) === 'done') return;
  if (state.get(name) === 'active') {
    problems.push(`cycle: ${[...path, name].join(' -> ')}`);
    return;
  }
  state.set(name, 'active');
  for (const d of graph.get(name) ?? []) visit(d, [...path, name]);
  state.set(name, 'done');
};
for (const name of graph.keys()) visit(name, []);
// Runtime-neutral packages: no node:* imports in their sources.
const walk = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? walk(join(dir, e.name))
      : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')
        ? [join(dir, e.name)]
        : [],
  );
for (const p of NODE_FREE) {
  for (const file of walk(join(root, 'packages', p, 'src'))) {
    const text = readFileSync(file, 'utf8');
    if (
      /from\s+['"]node:|require\(\s*['"]node:|from\s+['"](fs|net|tls|os|path|crypto|events|buffer)['"]/.test(
        text,
      )
    ) {
      problems.push(`${file.slice(root.length)} imports a Node built-in; ${p} must stay runtime-neutral`);
    }
  }
}
if (problems.length > 0) {
  for (const p of problems) console.error(`check-deps: ${p}`);
  process.exit(1);
}
console.log(`check-deps: ${graph.size} workspaces, layers respected, no cycles`);
