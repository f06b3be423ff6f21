// A hand-written gRPC service (no .proto) with JSON-encoded messages, to demo gRPC through the mesh:
//   service weft.echo.EchoService { rpc Echo(EchoRequest) returns (EchoReply); }
// The client honours HTTP_PROXY the way the HTTP samples do: it opens its HTTP/2 channel to the
// sidecar's address and sets :authority to the real target, so the sidecar routes by authority.
import * as grpc from '@grpc/grpc-js';
import { proxyForUrl } from '../../src/load/proxy-env.js';

export interface EchoRequest {
  message: string;
}

export interface EchoReply {
  message: string;
  hostname: string;
  version: string;
  /** Request metadata the server saw that helps debug routing (end-user, x-request-id, ...). */
  metadata: Record<string, string>;
}

export const ECHO_PATH = '/weft.echo.EchoService/Echo';

const toJson = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
function fromJson<T>(b: Buffer): T {
  return JSON.parse(b.toString('utf8')) as T;
}

export const echoServiceDefinition: grpc.ServiceDefinition = {
  Echo: {
    path: ECHO_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: toJson,
    requestDeserialize: (b: Buffer) => fromJson<EchoRequest>(b),
    responseSerialize: toJson,
    responseDeserialize: (b: Buffer) => fromJson<EchoReply>(b),
  },
};

export interface EchoClient {
  echo(message: string, metadata?: Record<string, string>, timeoutMs?: number): Promise<EchoReply>;
  close(): void;
  /** The address the channel connects to (the proxy when HTTP_PROXY applies). */
  channelTarget: string;
}

/** A client for `target` ("host:port"); goes through HTTP_PROXY unless NO_PROXY excludes the host. */
export function createEchoClient(target: string, env: Record<string, string | undefined> = process.env): EchoClient {
  let url: URL;
  try {
    url = new URL(`http://${target}`);
  } catch {
    throw new Error(`grpc-echo: invalid target ${JSON.stringify(target)}, expected host:port`);
  }
  if (url.port === '') throw new Error(`grpc-echo: target ${JSON.stringify(target)} needs a port`);
  const proxy = proxyForUrl(url, env);
  const channelTarget = proxy ? `${proxy.host}:${proxy.port}` : url.host;
  const options: grpc.ChannelOptions = { 'grpc.enable_http_proxy': 0 };
  if (proxy) options['grpc.default_authority'] = url.host;
  const client = new grpc.Client(channelTarget, grpc.credentials.createInsecure(), options);
  return {
    channelTarget,
    close: () => client.close(),
    echo: (message, metadata = {}, timeoutMs = 5000) =>
      new Promise<EchoReply>((resolve, reject) => {
        const md = new grpc.Metadata();
        for (const [k, v] of Object.entries(metadata)) md.set(k, v);
        client.makeUnaryRequest<EchoRequest, EchoReply>(
          ECHO_PATH,
          toJson,
          (b: Buffer) => fromJson<EchoReply>(b),
          { message },
          md,
          { deadline: Date.now() + timeoutMs },
          (err, reply) => (err || !reply ? reject(err ?? new Error('grpc-echo: empty reply')) : resolve(reply)),
        );
      }),
  };
}
