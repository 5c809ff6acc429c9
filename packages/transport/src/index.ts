export type { ConnectOptions } from './connect.js';
export { connect } from './connect.js';
export type { Connection, ConnectionHandlers, ConnectionOptions } from './connection.js';
export { createConnection } from './connection.js';
export type { Listener, ListenOptions } from './listen.js';
export { listen } from './listen.js';
export { toRpcError } from './socket-error.js';
export { checkConnectionOptions } from './timer-ms.js';
