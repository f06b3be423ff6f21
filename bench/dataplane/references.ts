// The upstream (nginx serving a 1 KB body) and the reference proxies (nginx, HAProxy, node-http-proxy,
// @fastify/http-proxy), each one process in the foreground with a config generated into a temp dir.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/cli/processes.js';
import { startListening, type Started } from './processes.js';

export const BODY_BYTES = 1024;
const NODE_PROXY_SCRIPT = fileURLToPath(new URL('./node-proxy.js', import.meta.url));

export interface RunningProxy extends Started { port: number; readyMs: number }

/** nginx's main-context lines (one worker, no daemon, files in `dir`), shared by every nginx the benches start. */
export function nginxCommon(dir: string, name: string): string {
  // As root, nginx would switch its worker to `nobody`, which cannot read the 0700 temp dir.
  const user = process.getuid?.() === 0 ? 'user root root;\n' : '';
  return `${user}worker_processes 1;
daemon off;
pid ${dir}/${name}.pid;
error_log ${dir}/${name}.error.log warn;
events { worker_connections 4096; }
`;
}

function nginxHttpCommon(dir: string, name: string): string {
  return `  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  client_body_temp_path ${dir}/${name}-body;
  proxy_temp_path ${dir}/${name}-proxy;
  fastcgi_temp_path ${dir}/${name}-fastcgi;
  uwsgi_temp_path ${dir}/${name}-uwsgi;
  scgi_temp_path ${dir}/${name}-scgi;
`;
}

export function upstreamNginxConfig(dir: string, port: number): string {
  return `${nginxCommon(dir, 'upstream')}http {
${nginxHttpCommon(dir, 'upstream')}  default_type text/plain;
  server {
    listen 127.0.0.1:${port};
    location / { root ${dir}/www; index body.txt; }
  }
}
`;
}

export function proxyNginxConfig(dir: string, name: string, port: number, next: number): string {
  return `${nginxCommon(dir, name)}http {
${nginxHttpCommon(dir, name)}  upstream next { server 127.0.0.1:${next}; keepalive 256; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://next;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

export function haproxyConfig(port: number, next: number): string {
  return `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  http-reuse always
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  server s1 127.0.0.1:${next}
`;
}

function startNginx(dir: string, name: string, config: string, port: number, core: number | undefined): Promise<RunningProxy> {
  const file = join(dir, `${name}.conf`);
  writeFileSync(file, config);
  return startListening(name, 'nginx', ['-p', dir, '-e', join(dir, `${name}.error.log`), '-c', file], core, '127.0.0.1', port).then((s) => Object.assign(s, { port }));
}

export async function startUpstream(dir: string, core: number | undefined): Promise<RunningProxy> {
  mkdirSync(join(dir, 'www'), { recursive: true });
  writeFileSync(join(dir, 'www', 'body.txt'), Buffer.alloc(BODY_BYTES, 'x'));
  const port = await freePort();
  return startNginx(dir, 'upstream', upstreamNginxConfig(dir, port), port, core);
}

export type ReferenceKind = 'nginx' | 'haproxy' | 'http-proxy' | 'fastify';

/** One reference proxy listening on a free port and forwarding to 127.0.0.1:next. */
export async function startReferenceProxy(kind: ReferenceKind, dir: string, name: string, next: number, core: number | undefined): Promise<RunningProxy> {
  const port = await freePort();
  switch (kind) {
    case 'nginx':
      return startNginx(dir, name, proxyNginxConfig(dir, name, port, next), port, core);
    case 'haproxy': {
      const file = join(dir, `${name}.cfg`);
      writeFileSync(file, haproxyConfig(port, next));
      return Object.assign(await startListening(name, 'haproxy', ['-db', '-f', file], core, '127.0.0.1', port), { port });
    }
    case 'http-proxy':
    case 'fastify':
      return Object.assign(await startListening(name, process.execPath, [NODE_PROXY_SCRIPT, kind, String(port), `127.0.0.1:${next}`], core, '127.0.0.1', port), { port });
  }
}
