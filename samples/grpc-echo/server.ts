// gRPC echo server: HOST (default 127.0.0.1), PORT (required), SERVICE_VERSION (default v1).
//   node dist/samples/grpc-echo/server.js
import os from 'node:os';
import * as grpc from '@grpc/grpc-js';
import { listenAddress } from '../lib/app-server.js';
import { echoServiceDefinition, type EchoReply, type EchoRequest } from './echo-service.js';

const { host, port } = listenAddress('grpc-echo');
const version = process.env.SERVICE_VERSION ?? 'v1';
const hostname = process.env.WEFT_WORKLOAD_NAME ?? process.env.HOSTNAME ?? os.hostname();
const SHOWN = ['end-user', 'x-request-id', 'x-forwarded-client-cert', 'x-b3-traceid', 'traceparent', ':authority', 'user-agent'];

const server = new grpc.Server();
server.addService(echoServiceDefinition, {
  Echo: (call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) => {
    const req = call.request;
    if (typeof req?.message !== 'string') {
      callback({ code: grpc.status.INVALID_ARGUMENT, details: 'EchoRequest.message must be a string' });
      return;
    }
    const metadata: Record<string, string> = {};
    for (const key of SHOWN) {
      const v = call.metadata.get(key);
      if (v.length > 0) metadata[key] = v.map(String).join(',');
    }
    process.stdout.write(`${new Date().toISOString()} grpc-echo Echo ${JSON.stringify(req.message).slice(0, 80)} from ${call.getPeer()}\n`);
    callback(null, { message: req.message, hostname, version, metadata });
  },
});

server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
  if (err) {
    process.stderr.write(`grpc-echo: cannot listen on ${host}:${port}: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`grpc-echo listening on ${host}:${bound}\n`);
});

let stopping = false;
function stop(signal: string): void {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`grpc-echo: ${signal} received, shutting down\n`);
  const force = setTimeout(() => server.forceShutdown(), 2000);
  force.unref();
  server.tryShutdown(() => process.exit(0));
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
