import * as grpc from '@grpc/grpc-js';
import type { ClientSpec } from '../case-spec.js';
import { GRPC_ECHO } from '../grpc-echo.js';
import { payloadBytes } from '../payload.js';
import type { Driver } from './driver.js';

/** grpc-js unary calls on one channel (one HTTP/2 connection, calls multiplexed as streams). */
export async function createGrpcDriver(spec: ClientSpec): Promise<Driver> {
  const client = new grpc.Client(`127.0.0.1:${spec.ports[0]}`, grpc.credentials.createInsecure());
  await new Promise<void>((resolve, reject) =>
    client.waitForReady(Date.now() + 5_000, (err) =>
      err === undefined || err === null ? resolve() : reject(err),
    ),
  );
  const payload = payloadBytes(spec.size);
  const { path, requestSerialize, responseDeserialize } = GRPC_ECHO;
  return {
    sent: payload,
    call: () =>
      new Promise<Buffer>((resolve, reject) => {
        client.makeUnaryRequest(path, requestSerialize, responseDeserialize, payload, (err, value) => {
          if (err !== null) reject(err);
          else resolve(value as Buffer);
        });
      }),
    close: async () => client.close(),
  };
}
