export type { Call } from './call.js';
export type { CallOptions } from './call-options.js';
export type { Client, ClientOptions } from './client.js';
export { createClient, parseAddress } from './client.js';
export type { PoolOptions, PoolStats } from './pool.js';
// For library authors
export { ConnectionPool } from './pool.js';
export type { ServiceProxy } from './service-proxy.js';
export { isUnprocessed } from './unprocessed.js';
