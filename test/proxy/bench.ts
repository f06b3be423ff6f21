// Quick requests/s loop: direct vs through one and two sidecars, each in its own process.
// Usage: node dist/test/proxy/bench.js [seconds=5] [connections=32]
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Proxy } from '../../src/proxy/index.js';
import { cla, edsCluster, hcm, listener, map, mustUpdate, outboundListeners, routeTo, staticCluster } from './helpers.js';

const self = fileURLToPath(import.meta.url);
const role = process.argv[2];

async function upstream(): Promise<void> {
  const body = Buffer.alloc(1024, 120);
  const s = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  });
  s.keepAliveTimeout = 60_000;
  s.listen(0, '127.0.0.1', () => process.send!({ port: (s.address() as AddressInfo).port }));
}

async function sidecarB(upPort: number): Promise<void> {
  const p = new Proxy({ nodeId: 'bench-b', address: '127.0.20.2', adminPort: 0 });
  await p.start();
  mustUpdate(p, 'cluster', map([staticCluster('inbound|80||', [['127.0.0.1', upPort]])]));
  const rc = { name: 'inbound|80||', virtual_hosts: [{ name: 'in', domains: ['*'], routes: [routeTo('inbound|80||')] }] };
  mustUpdate(p, 'listener', map([listener('in', '127.0.20.2', 0, hcm('inbound_80', { inline: rc }))]));
  await p.settled();
  process.send!({ port: p.listenerPort('in') });
}

async function sidecarA(bPort: number): Promise<void> {
  const p = new Proxy({ nodeId: 'bench-a', address: '127.0.20.1', adminPort: 0 });
  await p.start();
  mustUpdate(p, 'cluster', map([edsCluster('outbound|80||svc')]));
  mustUpdate(p, 'endpoint', map([cla('outbound|80||svc', [['127.0.20.2', bPort]])], 'cluster_name'));
  mustUpdate(p, 'listener', outboundListeners('127.0.20.1', [80], 0));
  mustUpdate(p, 'route', map([{ name: '80', virtual_hosts: [{ name: 'svc', domains: ['*'], routes: [routeTo('outbound|80||svc')] }] }]));
  await p.settled();
  process.send!({ port: p.listenerPort('virtualOutbound') });
}

let lastRssMb = 0;

async function cpuMs(c: ChildProcess): Promise<number> {
  c.send('cpu');
  const m = await new Promise<{ cpu: NodeJS.CpuUsage; rss: number }>((resolve) => {
    const on = (x: { cpu?: NodeJS.CpuUsage; rss?: number }): void => {
      if (x.cpu) {
        c.off('message', on);
        resolve(x as { cpu: NodeJS.CpuUsage; rss: number });
      }
    };
    c.on('message', on);
  });
  lastRssMb = Math.round(m.rss / 1048576);
  return (m.cpu.user + m.cpu.system) / 1000;
}

function start(r: string, arg: number): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(self, [r, String(arg)], { execArgv: process.env.BENCH_PROF === r ? ['--cpu-prof', '--cpu-prof-dir=/tmp/weftprof'] : [] });
  return new Promise((resolve) => child.once('message', (m: { port: number }) => resolve({ child, port: m.port })));
}

async function load(host: string, port: number, path: string, hostHeader: string, seconds: number, conns: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
  let done = 0;
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  const one = (): Promise<void> => new Promise((resolve) => {
    const req = http.request({ host, port, path, agent, headers: { host: hostHeader } }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode === 200) done++;
        else errors++;
        resolve();
      });
    });
    req.on('error', () => {
      errors++;
      resolve();
    });
    req.end();
  });
  const worker = async (): Promise<void> => {
    while (Date.now() < end) await one();
  };
  await Promise.all(Array.from({ length: conns }, worker));
  agent.destroy();
  if (errors) console.log(`  (${errors} errors)`);
  return Math.round(done / seconds);
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 5);
  const conns = Number(process.argv[3] ?? 32);
  const up = await start('upstream', 0);
  const b = await start('b', up.port);
  const a = await start('a', b.port);
  await load('127.0.0.1', up.port, '/', 'x', 1, conns); // warm-up
  const direct = await load('127.0.0.1', up.port, '/', 'x', seconds, conns);
  await load('127.0.20.2', b.port, '/', 'svc', 1, conns);
  const cpu0 = await cpuMs(b.child);
  const one = await load('127.0.20.2', b.port, '/', 'svc', seconds, conns);
  const cpuPerRequestUs = Math.round(((await cpuMs(b.child)) - cpu0) * 1000 / (one * seconds));
  await load('127.0.20.1', a.port, 'http://svc/', 'svc', 1, conns);
  const two = await load('127.0.20.1', a.port, 'http://svc/', 'svc', seconds, conns);
  const result: Record<string, number> = { seconds, connections: conns, direct, oneProxy: one, twoProxies: two, oneRatio: +(one / direct).toFixed(2), twoRatio: +(two / direct).toFixed(2), proxyCpuUsPerRequest: cpuPerRequestUs, proxyRssMb: lastRssMb };
  for (const c of [a.child, b.child]) c.kill('SIGINT');
  const nginx = process.env.WEFT_BENCH_NGINX;
  if (nginx) {
    // The same topology with an nginx pair (one process per hop, one worker each), for the ratio.
    const dir = '/tmp/weft-bench-nginx';
    mkdirSync(dir, { recursive: true });
    const conf = (listen: string, to: string): string => `worker_processes 1; pid ${dir}/${listen}.pid; error_log ${dir}/${listen}.err;
events { worker_connections 1024; }
http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  upstream up { server ${to}; keepalive 64; }
  server { listen ${listen}; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } } }`;
    writeFileSync(`${dir}/b.conf`, conf('127.0.20.12:18081', `127.0.0.1:${up.port}`));
    writeFileSync(`${dir}/a.conf`, conf('127.0.20.11:18080', '127.0.20.12:18081'));
    const ng = ['b', 'a'].map((n) => spawn(nginx, ['-p', dir, '-c', `${dir}/${n}.conf`, '-g', 'daemon off;'], { stdio: 'inherit' }));
    await new Promise((r) => setTimeout(r, 500));
    await load('127.0.20.12', 18081, '/', 'svc', 1, conns);
    result.nginxOne = await load('127.0.20.12', 18081, '/', 'svc', seconds, conns);
    result.nginxTwo = await load('127.0.20.11', 18080, '/', 'svc', seconds, conns);
    result.twoVsNginxPair = +(two / result.nginxTwo).toFixed(2);
    for (const c of ng) c.kill('SIGTERM');
  }
  console.log(JSON.stringify(result));
  up.child.kill('SIGINT');
}

if (role === 'upstream') void upstream();
else if (role === 'b') void sidecarB(Number(process.argv[3]));
else if (role === 'a') void sidecarA(Number(process.argv[3]));
else void main();
process.on('SIGINT', () => process.exit(0));
// Children report their CPU time so per-request CPU can be computed despite noisy neighbours.
process.on('message', (m: unknown) => {
  if (m === 'cpu') process.send!({ cpu: process.cpuUsage(), rss: process.memoryUsage().rss });
});
