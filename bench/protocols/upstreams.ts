// The upstreams: one nginx (1 worker) serving a 1 KB body over h2c (prior knowledge, `listen ... http2`)
// on one port and over HTTP/1.1 keep-alive on another, and the gRPC echo server (grpc-echo.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/cli/processes.js';
import { startListening, stopProcess, type Started } from '../dataplane/processes.js';
import { nginxCommon } from '../dataplane/references.js';

export const BODY_BYTES = 1024;
const GRPC_ECHO_SCRIPT = fileURLToPath(new URL('./grpc-echo.js', import.meta.url));

export interface Upstreams {
  nginx: Started & { readyMs: number };
  grpc: Started & { readyMs: number };
  h2cPort: number;
  h1Port: number;
  grpcPort: number;
  stop(): Promise<void>;
}

export function nginxConfig(dir: string, h2cPort: number, h1Port: number): string {
  // As root, nginx would switch its worker to `nobody`, which cannot read the 0700 temp dir.
  const user = process.getuid?.() === 0 ? 'user root root;\n' : '';
  return `${user}worker_processes 1;
daemon off;
pid ${dir}/upstream.pid;
error_log ${dir}/upstream.error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  http2_max_requests 1000000;
  http2_max_concurrent_streams 1000;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  default_type text/plain;
  server {
    listen 127.0.0.1:${h2cPort} http2;
    location / { root ${dir}/www; index body.txt; }
  }
  server {
    listen 127.0.0.1:${h1Port};
    location / { root ${dir}/www; index body.txt; }
  }
}
`;
}

export async function startUpstreams(dir: string, core: number | undefined): Promise<Upstreams> {
  mkdirSync(join(dir, 'www'), { recursive: true });
  writeFileSync(join(dir, 'www', 'body.txt'), Buffer.alloc(BODY_BYTES, 'x'));
  const [h2cPort, h1Port, grpcPort] = [await freePort(), await freePort(), await freePort()];
  const file = join(dir, 'upstream.conf');
  writeFileSync(file, nginxConfig(dir, h2cPort, h1Port));
  const nginx = await startListening('nginx upstream', 'nginx', ['-p', dir, '-e', join(dir, 'upstream.error.log'), '-c', file], core, '127.0.0.1', h1Port);
  let grpc;
  try {
    grpc = await startListening('grpc echo upstream', process.execPath, [GRPC_ECHO_SCRIPT, String(grpcPort)], core, '127.0.0.1', grpcPort);
  } catch (e) {
    await stopProcess(nginx);
    throw e;
  }
  return {
    nginx, grpc, h2cPort, h1Port, grpcPort,
    async stop() { await Promise.all([stopProcess(nginx), stopProcess(grpc)]); },
  };
}

export interface NginxGrpcPair { client: Started & { readyMs: number }; server: Started & { readyMs: number }; port: number; stop(): Promise<void> }

function grpcProxyConfig(dir: string, name: string, port: number, next: number): string {
  return `${nginxCommon(dir, name)}http {
  access_log off;
  keepalive_requests 1000000;
  http2_max_requests 1000000;
  http2_max_concurrent_streams 1000;
  client_body_temp_path ${dir}/${name}-body;
  proxy_temp_path ${dir}/${name}-proxy;
  fastcgi_temp_path ${dir}/${name}-fastcgi;
  uwsgi_temp_path ${dir}/${name}-uwsgi;
  scgi_temp_path ${dir}/${name}-scgi;
  upstream next { server 127.0.0.1:${next}; keepalive 64; }
  server {
    listen 127.0.0.1:${port} http2;
    location / { grpc_pass grpc://next; }
  }
}
`;
}

/** The reference for gRPC: two nginx (1 worker each) with grpc_pass, h2c end to end, in front of the echo server. */
export async function startNginxGrpcPair(dir: string, grpcPort: number, core: number | undefined): Promise<NginxGrpcPair> {
  const start = async (name: string, port: number, next: number): Promise<Started & { readyMs: number }> => {
    const file = join(dir, `${name}.conf`);
    writeFileSync(file, grpcProxyConfig(dir, name, port, next));
    return startListening(name, 'nginx', ['-p', dir, '-e', join(dir, `${name}.error.log`), '-c', file], core, '127.0.0.1', port);
  };
  const serverPort = await freePort();
  const server = await start('nginx-grpc-server', serverPort, grpcPort);
  try {
    const port = await freePort();
    const client = await start('nginx-grpc-client', port, serverPort);
    return { client, server, port, async stop() { await Promise.all([stopProcess(client), stopProcess(server)]); } };
  } catch (e) {
    await stopProcess(server);
    throw e;
  }
}
