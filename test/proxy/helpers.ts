// Resource builders shaped like src/translate's output (ARCHITECTURE.md conventions) and small
// real-socket helpers for the proxy integration tests.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Proxy } from '../../src/proxy/index.js';
import { TYPE } from '../../src/xds/protos.js';

export const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
export const TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
export type Obj = Record<string, unknown>;

export function hcm(statPrefix: string, routing: { rds: string } | { inline: Obj }, extra: Obj = {}): Obj {
  return {
    '@type': HCM,
    stat_prefix: statPrefix,
    ...('rds' in routing ? { rds: { route_config_name: routing.rds, config_source: { ads: {} } } } : { route_config: routing.inline }),
    http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } }],
    upgrade_configs: [{ upgrade_type: 'websocket' }],
    ...extra,
  };
}

export function listener(name: string, address: string, port: number, filter: Obj, extra: Obj = {}): Obj {
  return {
    name,
    address: { socket_address: { address, port_value: port } },
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: filter }] }],
    ...extra,
  };
}

/** virtualOutbound on ADDRESS:15001 plus 0.0.0.0_<port> listeners with RDS <port>. */
export function outboundListeners(address: string, ports: number[], outboundPort = 15001): Map<string, object> {
  const m = new Map<string, object>();
  m.set('virtualOutbound', {
    name: 'virtualOutbound',
    address: { socket_address: { address, port_value: outboundPort } },
    use_original_dst: { value: true },
    traffic_direction: 'OUTBOUND',
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TCP_PROXY, stat_prefix: 'PassthroughCluster', cluster: 'PassthroughCluster' } }] }],
  });
  for (const p of ports) {
    m.set(`0.0.0.0_${p}`, {
      ...listener(`0.0.0.0_${p}`, '0.0.0.0', p, hcm(`outbound_0.0.0.0_${p}`, { rds: String(p) })),
      bind_to_port: { value: false },
      traffic_direction: 'OUTBOUND',
    });
  }
  return m;
}

export function vhost(name: string, domains: string[], routes: Obj[], extra: Obj = {}): Obj {
  return { name, domains, routes, ...extra };
}

export function routeTo(cluster: string, match: Obj = { prefix: '/' }, extra: Obj = {}): Obj {
  return { match, route: { cluster, timeout: { seconds: 0 } }, ...extra };
}

export function edsCluster(name: string, extra: Obj = {}): Obj {
  return { name, type: 'EDS', eds_cluster_config: { eds_config: { ads: {} }, service_name: name }, connect_timeout: { seconds: 1 }, lb_policy: 'ROUND_ROBIN', ...extra };
}

export function staticCluster(name: string, endpoints: [string, number][], extra: Obj = {}): Obj {
  return { name, type: 'STATIC', connect_timeout: { seconds: 1 }, load_assignment: cla(name, endpoints), ...extra };
}

export function cla(name: string, endpoints: [string, number, number?][]): Obj {
  return {
    cluster_name: name,
    endpoints: [{ lb_endpoints: endpoints.map(([address, port, weight]) => ({ endpoint: { address: { socket_address: { address, port_value: port } } }, ...(weight ? { load_balancing_weight: { value: weight } } : {}) })) }],
  };
}

export function passthroughCluster(): Obj {
  return { name: 'PassthroughCluster', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: { seconds: 1 } };
}

export function map(entries: Obj[], key = 'name'): Map<string, object> {
  return new Map(entries.map((e) => [String(e[key]), e]));
}

export function mustUpdate(p: Proxy, type: keyof typeof TYPE, resources: Map<string, object>): void {
  const r = p.update(TYPE[type], resources);
  if (!r.ok) throw new Error(`update ${type} failed: ${r.error}`);
}

/** An HTTP server answering with a JSON echo of what it received, tagged with its name. */
export async function echoServer(name: string, host = '127.0.0.1', opts: http.ServerOptions = {}): Promise<{ server: http.Server; port: number; hits: () => number }> {
  let hits = 0;
  const server = http.createServer(opts, (req, res) => {
    hits++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.stringify({ name, method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString(), httpVersion: req.httpVersion });
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name });
      res.end(body);
    });
  });
  const port = await listen(server, host);
  return { server, port, hits: () => hits };
}

export async function listen(server: net.Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as AddressInfo).port;
}

export async function close(server: net.Server): Promise<void> {
  (server as http.Server).closeAllConnections?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

export const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** One request through an HTTP proxy (absolute-form when `proxy` is given) or directly. */
export function request(opts: { host: string; port: number; path?: string; method?: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer; agent?: http.Agent | false }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: opts.host, port: opts.port, path: opts.path ?? '/', method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: <T>() => JSON.parse(body) as T });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Sends raw bytes and collects everything until the server closes or `untilMs` passes. */
export function raw(host: string, port: number, data: string | Buffer, untilMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    const chunks: Buffer[] = [];
    const done = (): void => {
      clearTimeout(t);
      s.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const t = setTimeout(done, untilMs);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', done);
    s.on('close', done);
    s.write(data);
  });
}

export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function startProxy(address: string, nodeId = 'sidecar~test'): Promise<Proxy> {
  const p = new Proxy({ nodeId, address, adminPort: 0 });
  await p.start();
  return p;
}
