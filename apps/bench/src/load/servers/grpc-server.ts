import * as grpc from '@grpc/grpc-js';
import { GRPC_ECHO } from '../grpc-echo.js';
import type { BenchServer, CallCounter } from './bench-server.js';

/** A grpc-js server with one unary echo method (raw Buffer serializers, see {@link GRPC_ECHO}). */
export async function startGrpcServer(counter: CallCounter): Promise<BenchServer> {
  const server = new grpc.Server();
  server.addService(
    { echo: GRPC_ECHO },
    {
      echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        counter.calls++;
        callback(null, call.request);
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err === null ? resolve(p) : reject(err),
    ),
  );
  return {
    port,
    close: () =>
      new Promise((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}
