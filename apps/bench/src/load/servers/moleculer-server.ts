import { ServiceBroker } from 'moleculer';
import type { BenchServer, CallCounter } from './bench-server.js';
import { freeLoopbackPort } from './free-port.js';

/** The node id of the Moleculer server listening on `port`: the client derives it from the port alone. */
export const moleculerNodeId = (port: number): string => `bench-server-${port}`;

/**
 * A Moleculer 0.14 broker with an `echo.echo` action that returns its params, on the TCP transporter and the
 * default JSON serializer, as a user would set it up: no UDP discovery (loopback only), the node's own
 * address as the only static URL, and the client introduces itself by gossip.
 */
export async function startMoleculerServer(counter: CallCounter): Promise<BenchServer> {
  const port = await freeLoopbackPort();
  const nodeID = moleculerNodeId(port);
  const broker = new ServiceBroker({
    nodeID,
    logger: false,
    transporter: {
      type: 'TCP',
      options: { udpDiscovery: false, port, urls: [`127.0.0.1:${port}/${nodeID}`] },
    },
  });
  broker.createService({
    name: 'echo',
    actions: {
      echo(ctx) {
        counter.calls++;
        return ctx.params;
      },
    },
  });
  await broker.start();
  return { port, close: () => broker.stop() };
}
