// A client sidecar configured by translate() in this process: Istio YAML and workloads -> Envoy
// resources -> a src/proxy Proxy on its own loopback address, driven over real sockets. Lighter than
// a TestMesh when the test is about what one sidecar does with what the control plane sends.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Workload } from '../../src/model/index.js';
import { Proxy } from '../../src/proxy/index.js';
import { createSnapshot } from '../../src/registry/index.js';
import { translate, type ProxyInfo } from '../../src/translate/index.js';
import { TYPE } from '../../src/xds/protos.js';
import { parseResources } from '../translate/harness.js';

export interface TranslatedSidecar {
  proxy: Proxy;
  /** One GET through the sidecar's virtualOutbound (the app's HTTP_PROXY), e.g. `http://web:80/x`. */
  get(url: string, headers?: Record<string, string>): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>;
  /** Re-translates with these workloads and pushes only the ClusterLoadAssignments (as an EDS push). */
  pushEndpoints(workloads: Workload[]): void;
  close(): Promise<void>;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function apply(proxy: Proxy, type: string, m: ReadonlyMap<string, object>): void {
  const r = proxy.update(type, m);
  if (!r.ok) throw new Error(`${type} rejected: ${r.error}`);
}

/** Translates `yaml` + `workloads` for `client` (a workload in the list) and starts its sidecar. */
export async function translatedSidecar(yaml: string, workloads: Workload[], client: string): Promise<TranslatedSidecar> {
  const resources = parseResources(yaml, 'test');
  const w = workloads.find((x) => x.name === client);
  if (!w) throw new Error(`no workload ${client}`);
  const info: ProxyInfo = {
    id: `sidecar~${w.address}~${w.name}.${w.namespace}~${w.namespace}.svc.cluster.local`, kind: 'sidecar', name: w.name, namespace: w.namespace,
    labels: w.labels, address: w.address, serviceAccount: w.serviceAccount ?? 'default', workload: w, locality: w.locality,
  };
  let version = 1;
  const res = translate(createSnapshot(String(version), resources, workloads), info);
  const proxy = new Proxy({ nodeId: info.id, address: w.address, adminPort: 0 });
  apply(proxy, TYPE.cluster, res.clusters);
  apply(proxy, TYPE.endpoint, res.endpoints);
  apply(proxy, TYPE.listener, res.listeners);
  apply(proxy, TYPE.route, res.routes);
  await proxy.start();
  await proxy.settled();
  return {
    proxy,
    get: (url, headers = {}) => new Promise((resolve, reject) => {
      const u = new URL(url);
      const req = http.request({ host: w.address, port: 15001, path: url, headers: { host: u.host, ...headers }, agent }, (r) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: r.headers }));
        r.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    }),
    pushEndpoints(next) {
      apply(proxy, TYPE.endpoint, translate(createSnapshot(String(++version), resources, next), info).endpoints);
    },
    close: async () => {
      agent.destroy();
      await proxy.close();
    },
  };
}

/** A backend answering its name (and counting the TCP connections it accepted). */
export async function namedServer(name: string, host: string, delayMs = 0): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  let connections = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    const reply = (): void => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': name });
      res.end(name);
    };
    if (delayMs > 0) setTimeout(reply, delayMs);
    else reply();
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, host, r));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Counts answers by body over `n` sequential calls. */
export async function tallyCalls(n: number, call: () => Promise<{ status: number; body: string }>): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = await call();
    const k = r.status === 200 ? r.body : `status ${r.status}`;
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}
