// For library authors
export { runChain } from './chain.js';
export type { MethodOptions, ServiceOptions } from './decorators.js';
export { method, service } from './decorators.js';
export type { Logger } from './logger.js';
export { consoleLogger, silentLogger } from './logger.js';
export type { ListenAddress, Server, ServerOptions } from './server.js';
export { createServer } from './server.js';
export type { AddServiceOptions, MethodDefinition, ServiceDefinition } from './service-definition.js';
export { defineService } from './service-definition.js';
