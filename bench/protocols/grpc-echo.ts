// A gRPC unary echo over @grpc/grpc-js with raw-bytes (de)serializers, so no .proto is needed: the
// service `/bench.Echo/Echo` returns the request bytes. Run as a script it is the upstream server
// (`node grpc-echo.js PORT`); the client definition is shared with the load generator.
import grpc from '@grpc/grpc-js';
import { fileURLToPath } from 'node:url';

const identity = (b: Buffer): Buffer => b;

export const ECHO_SERVICE: grpc.ServiceDefinition = {
  Echo: {
    path: '/bench.Echo/Echo', requestStream: false, responseStream: false,
    requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity,
  },
};

export function startEchoServer(port: number): Promise<grpc.Server> {
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request),
  });
  return new Promise((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve(server)));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2]);
  if (!Number.isInteger(port) || port <= 0) {
    process.stderr.write('usage: node grpc-echo.js PORT\n');
    process.exit(2);
  }
  startEchoServer(port).then((server) => {
    process.stdout.write(`grpc echo listening on 127.0.0.1:${port}\n`);
    const stop = (): void => server.tryShutdown(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  }, (e: unknown) => {
    process.stderr.write(`grpc echo: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
