// A tiny Greeter gRPC service with raw-bytes serializers (no .proto needed), for xDS tests.
import * as grpc from '@grpc/grpc-js';

const bytes = (b: Buffer): Buffer => b;
export const GREETER_METHOD = '/helloworld.Greeter/SayHello';
export const greeterDefinition: grpc.ServiceDefinition = {
  SayHello: { path: GREETER_METHOD, requestStream: false, responseStream: false, requestSerialize: bytes, requestDeserialize: bytes, responseSerialize: bytes, responseDeserialize: bytes },
};

/** A backend that answers every SayHello with `reply`, bound to address:0. */
export async function greeterBackend(address: string, reply: string): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(greeterDefinition, { SayHello: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from(reply)) });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(`${address}:0`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { server, port };
}

/** One SayHello call; resolves with the backend's reply. */
export function callGreeter(client: grpc.Client, md: Record<string, string> = {}, timeoutMs = 3000): Promise<string> {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(md)) metadata.set(k, v);
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(GREETER_METHOD, bytes, bytes, Buffer.from('hi'), metadata, { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(String(res))));
  });
}
