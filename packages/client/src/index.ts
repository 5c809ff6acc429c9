export type { Call } from './call.js';
export type { CallOptions } from './call-options.js';
export { createClient } from './client.js';
export type { Client, ClientOptions } from './client-options.js';
export { parseAddress } from './parse-address.js';
export type { PoolOptions, PoolStats } from './pool.js';
// For library authors
export { ConnectionPool } from './pool.js';
export type { ServiceProxy } from './service-proxy.js';
export { isUnprocessed } from './unprocessed.js';
