import { ServiceBroker } from 'moleculer';
import type { ClientSpec } from '../case-spec.js';
import { rpcArgs } from '../payload.js';
import { moleculerNodeId } from '../servers/moleculer-server.js';
import type { Driver } from './driver.js';

/** How long the client may take to learn of the server's `echo` service by gossip (about 2 s here). */
const DISCOVERY_MS = 10_000;

/**
 * A Moleculer 0.14 client broker: TCP transporter on a port of its own, the server's address as its static
 * URL, the default JSON serializer; `broker.call('echo.echo', { data })` with the payload as a latin1 string,
 * as mini-rpc's JSON cases send it. One broker, so the calls share its connection to the server.
 */
export async function createMoleculerDriver(spec: ClientSpec): Promise<Driver> {
  const port = spec.ports[0] as number;
  const serverId = moleculerNodeId(port);
  const broker = new ServiceBroker({
    nodeID: `bench-client-${process.pid}`,
    logger: false,
    transporter: {
      type: 'TCP',
      options: { udpDiscovery: false, port: 0, urls: [`127.0.0.1:${port}/${serverId}`] },
    },
  });
  await broker.start();
  try {
    await broker.waitForServices('echo', DISCOVERY_MS);
  } catch (err) {
    await broker.stop();
    throw err;
  }
  const params = rpcArgs('json', spec.payload, spec.size) as Record<string, unknown>;
  return {
    sent: params,
    call: () => broker.call('echo.echo', params),
    close: () => broker.stop(),
  };
}
