// End-user API
export type { EtcdRegistryOptions } from './etcd-registry.js';
export { createEtcdRegistry } from './etcd-registry.js';
export { createMemoryRegistry } from './memory-registry.js';
export { parseEtcdUrl } from './parse-etcd-url.js';
export type { RegistryLogger } from './registry-logger.js';
