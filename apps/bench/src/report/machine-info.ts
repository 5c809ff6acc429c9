import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, freemem, loadavg, release, totalmem, type } from 'node:os';

/** The machine, software and command a result set was measured with. */
export interface MachineInfo {
  readonly date: string;
  readonly command: string;
  readonly argv: readonly string[];
  readonly cpuModel: string;
  readonly cores: number;
  readonly os: string;
  readonly memoryGiB: number;
  readonly freeMemoryGiB: number;
  readonly loadAverage: readonly number[];
  readonly node: string;
  readonly v8: string;
  readonly gitCommit: string;
  readonly gitDirty: boolean;
  readonly packages: Record<string, string>;
}

const PACKAGES = [
  '@mini-rpc/protocol',
  '@mini-rpc/codec',
  '@mini-rpc/transport',
  '@mini-rpc/server',
  '@mini-rpc/client',
  '@mini-rpc/registry',
  '@mini-rpc/balancer',
  '@mini-rpc/middleware',
  '@mini-rpc/resilience',
  '@grpc/grpc-js',
  '@grpc/proto-loader',
  'undici',
  'hdr-histogram-js',
  'tinybench',
  'msgpackr',
  'protobufjs',
  'vega',
  'vega-lite',
];

/** Version of a dependency as installed next to the bench (its package.json), or `missing`. */
function versionOf(benchDir: string, name: string): string {
  for (const dir of [`${benchDir}/node_modules`, `${benchDir}/node_modules/@mini-rpc/codec/node_modules`]) {
    try {
      return (JSON.parse(readFileSync(`${dir}/${name}/package.json`, 'utf8')) as { version: string }).version;
    } catch {
      // try the next place
    }
  }
  return 'missing';
}

function git(args: string[], cwd: string): string {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/** Collects {@link MachineInfo}; `command` is how the run was started, as a user would type it. */
export function machineInfo(benchDir: string, command: string, argv: readonly string[]): MachineInfo {
  const cpu = cpus();
  const packages: Record<string, string> = {};
  for (const name of PACKAGES) packages[name] = versionOf(benchDir, name);
  return {
    date: new Date().toISOString(),
    command,
    argv,
    cpuModel: cpu[0]?.model ?? 'unknown',
    cores: cpu.length,
    os: `${type()} ${release()}`,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemoryGiB: Math.round((freemem() / 2 ** 30) * 10) / 10,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    node: process.version,
    v8: process.versions.v8,
    gitCommit: git(['rev-parse', '--short', 'HEAD'], benchDir),
    gitDirty: git(['status', '--porcelain', '--', '../../packages'], benchDir) !== '',
    packages,
  };
}
