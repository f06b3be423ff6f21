// Mesh-wide localityLbSetting (Istio meshConfig.localityLbSetting): it applies to every cluster whose
// DestinationRule sets none, a DestinationRule's own setting overrides it, `enabled: false` on either
// turns locality balancing off. And failoverPriority on plain labels (`version`) compares the proxy's
// own labels, so two proxies alike but for that label get different endpoints from one snapshot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { LocalityLoadBalancerSetting, Workload } from '../../src/model/index.js';
import { Proxy } from '../../src/proxy/index.js';
import { createSnapshot, type ConfigSnapshot } from '../../src/registry/index.js';
import { translate, type ProxyInfo } from '../../src/translate/index.js';
import { TYPE } from '../../src/xds/protos.js';
import { parseResources } from '../translate/harness.js';
import { namedServer, tallyCalls } from './translated.js';

const SERVICE = `
apiVersion: v1
kind: Service
metadata: { name: web }
spec: { selector: { app: web }, ports: [{ name: http, port: 80 }] }
`;
const DR = (tp: string) => `${SERVICE}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: web }
spec:
  host: web
  trafficPolicy: ${tp}
`;
const CLUSTER = 'outbound|80||web.default.svc.cluster.local';
const DISTRIBUTE: LocalityLoadBalancerSetting = { distribute: [{ from: 'us-east/zone-a/*', to: { 'us-east/zone-a/*': 80, 'us-east/zone-b/*': 20 } }] };

function wl(name: string, address: string, port: number, locality: string, labels: Record<string, string>): Workload {
  return { name, namespace: 'default', address, labels, serviceAccount: labels.app, ports: port ? { http: port } : {}, locality };
}
const CLIENTS = [wl('client', '127.0.9.9', 0, 'us-east/zone-a', { app: 'client', version: 'v1' }), wl('client2', '127.0.9.10', 0, 'us-east/zone-a', { app: 'client', version: 'v2' })];
const WS = [
  wl('a1', '127.0.9.1', 80, 'us-east/zone-a', { app: 'web', version: 'v1' }), wl('a2', '127.0.9.2', 80, 'us-east/zone-a', { app: 'web', version: 'v2' }),
  wl('b', '127.0.9.3', 80, 'us-east/zone-b', { app: 'web', version: 'v1' }), ...CLIENTS,
];

function info(w: Workload): ProxyInfo {
  return { id: `sidecar~${w.address}~${w.name}.default~default.svc.cluster.local`, kind: 'sidecar', name: w.name, namespace: 'default', labels: w.labels,
    address: w.address, serviceAccount: w.serviceAccount, workload: w, locality: w.locality };
}

type Cla = { endpoints: { locality: { zone: string }; priority?: number; load_balancing_weight: { value: number }; lb_endpoints: { endpoint: { address: { socket_address: { address: string } } } }[] }[] };
/** zone=weight per locality (weights as the sidecar reads them). */
function weights(snap: ConfigSnapshot, client = CLIENTS[0]): string[] {
  const cla = translate(snap, info(client)).endpoints.get(CLUSTER) as Cla;
  return cla.endpoints.map((g) => `${g.locality.zone}=${g.lb_endpoints.length ? g.load_balancing_weight.value : 'empty'}`);
}
/** Last address octet -> priority. */
function priorities(snap: ConfigSnapshot, client: Workload): Record<string, number> {
  const cla = translate(snap, info(client)).endpoints.get(CLUSTER) as Cla;
  const out: Record<string, number> = {};
  for (const g of cla.endpoints) for (const e of g.lb_endpoints) out[e.endpoint.address.socket_address.address.split('.')[3]] = g.priority ?? 0;
  return out;
}
const snap = (yaml: string, mesh?: LocalityLoadBalancerSetting, ws = WS) => createSnapshot('1', parseResources(yaml, 't'), ws, mesh ? { localityLbSetting: mesh } : undefined);

void test('mesh distribute applies with no DestinationRule or one without localityLbSetting; the rule\'s own setting overrides; enabled: false turns it off', () => {
  const plain = ['zone-a=2', 'zone-b=1']; // a locality weighs the sum of its endpoints' weights
  assert.deepEqual(weights(snap(SERVICE)), plain);
  assert.deepEqual(weights(snap(SERVICE, DISTRIBUTE)), ['zone-a=80', 'zone-b=20']);
  const cluster = translate(snap(SERVICE, DISTRIBUTE), info(CLIENTS[0])).clusters.get(CLUSTER) as { common_lb_config?: object };
  assert.deepEqual(cluster.common_lb_config, { locality_weighted_lb_config: {} });
  assert.deepEqual(weights(snap(DR('{ loadBalancer: { simple: ROUND_ROBIN } }'), DISTRIBUTE)), ['zone-a=80', 'zone-b=20']);
  // The DestinationRule's own setting wins over the mesh's.
  assert.deepEqual(weights(snap(DR('{ loadBalancer: { localityLbSetting: { distribute: [{ from: "*", to: { "us-east/zone-b": 100 } }] } } }'), DISTRIBUTE)), ['zone-a=empty', 'zone-b=100']);
  assert.deepEqual(weights(snap(DR('{ loadBalancer: { localityLbSetting: { enabled: false } } }'), DISTRIBUTE)), plain);
  assert.deepEqual(weights(snap(SERVICE, { ...DISTRIBUTE, enabled: false })), plain);
  const off = translate(snap(SERVICE, { ...DISTRIBUTE, enabled: false }), info(CLIENTS[0])).clusters.get(CLUSTER) as { common_lb_config?: object };
  assert.equal(off.common_lb_config, undefined);
});

void test('mesh failover/failoverPriority need the rule\'s outlierDetection; mesh enabled: false leaves no priorities', () => {
  const od = DR('{ outlierDetection: { consecutive5xxErrors: 3 } }');
  // Istio's default (locality failover on): the proxy's own zone first.
  assert.deepEqual(priorities(snap(od), CLIENTS[0]), { 1: 0, 2: 0, 3: 1 });
  assert.deepEqual(priorities(snap(od, { enabled: false }), CLIENTS[0]), { 1: 0, 2: 0, 3: 0 });
  assert.deepEqual(priorities(snap(od, { failoverPriority: ['version'] }), CLIENTS[0]), { 1: 0, 2: 1, 3: 0 });
  assert.deepEqual(priorities(snap(SERVICE, { failoverPriority: ['version'] }), CLIENTS[0]), { 1: 0, 2: 0, 3: 0 }, 'no outlierDetection: no failover');
});

void test('failoverPriority on a plain label follows each proxy\'s own labels (two clients, one snapshot)', () => {
  const s = snap(DR('{ outlierDetection: { consecutive5xxErrors: 3 }, loadBalancer: { localityLbSetting: { failoverPriority: [version, topology.kubernetes.io/zone] } } }'));
  assert.deepEqual(priorities(s, CLIENTS[0]), { 1: 0, 3: 1, 2: 2 }, 'v1 client: v1 in its zone, then v1 elsewhere, then v2');
  assert.deepEqual(priorities(s, CLIENTS[1]), { 2: 0, 1: 1, 3: 1 }, 'v2 client: v2 first');
  assert.deepEqual(priorities(s, CLIENTS[0]), { 1: 0, 3: 1, 2: 2 }, 'memoized per label value, not per first caller');
});

/** A sidecar for `client`, configured in-process from translate() with the mesh setting, on real sockets. */
async function sidecar(s: ConfigSnapshot, client: Workload): Promise<{ get(): Promise<{ status: number; body: string }>; close(): Promise<void> }> {
  const res = translate(s, info(client));
  const proxy = new Proxy({ nodeId: info(client).id, address: client.address, adminPort: 0 });
  for (const [type, m] of [[TYPE.cluster, res.clusters], [TYPE.endpoint, res.endpoints], [TYPE.listener, res.listeners], [TYPE.route, res.routes]] as const) {
    const r = proxy.update(type, m);
    if (!r.ok) throw new Error(`${type} rejected: ${r.error}`);
  }
  await proxy.start();
  await proxy.settled();
  const agent = new http.Agent({ keepAlive: true });
  return {
    get: () => new Promise((resolve, reject) => {
      const req = http.request({ host: client.address, port: 15001, path: 'http://web/', headers: { host: 'web' }, agent }, (r) => {
        let body = '';
        r.on('data', (c: Buffer) => { body += c.toString(); });
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    }),
    close: async () => { agent.destroy(); await proxy.close(); },
  };
}

void test('real sidecars: mesh distribute splits 80/20; failoverPriority [version] keeps each client on its own version', { timeout: 20_000 }, async () => {
  const base = '127.0.94';
  const servers = await Promise.all([namedServer('a-v1', `${base}.1`), namedServer('a-v2', `${base}.2`), namedServer('b-v1', `${base}.3`)]);
  const ws = [
    wl('a1', `${base}.1`, servers[0].port, 'us-east/zone-a', { app: 'web', version: 'v1' }), wl('a2', `${base}.2`, servers[1].port, 'us-east/zone-a', { app: 'web', version: 'v2' }),
    wl('b', `${base}.3`, servers[2].port, 'us-east/zone-b', { app: 'web', version: 'v1' }),
    wl('c1', `${base}.9`, 0, 'us-east/zone-a', { app: 'client', version: 'v1' }), wl('c2', `${base}.10`, 0, 'us-east/zone-a', { app: 'client', version: 'v2' }),
  ];
  const sidecars: { close(): Promise<void> }[] = [];
  try {
    const split = await sidecar(snap(DR('{ loadBalancer: { simple: ROUND_ROBIN } }'), DISTRIBUTE, ws), ws[3]);
    sidecars.push(split);
    const t = await tallyCalls(100, () => split.get());
    const zoneA = (t.get('a-v1') ?? 0) + (t.get('a-v2') ?? 0);
    assert.ok(Math.abs(zoneA - 80) <= 3 && Math.abs((t.get('b-v1') ?? 0) - 20) <= 3, JSON.stringify([...t]));
    await sidecars.pop()?.close(); // frees c1's address for the next sidecar
    const fp = snap(DR('{ outlierDetection: { consecutive5xxErrors: 3 } }'), { failoverPriority: ['version'] }, ws);
    const [v1, v2] = await Promise.all([sidecar(fp, ws[3]), sidecar(fp, ws[4])]);
    sidecars.push(v1, v2);
    const t1 = await tallyCalls(20, () => v1.get());
    assert.equal((t1.get('a-v1') ?? 0) + (t1.get('b-v1') ?? 0), 20, JSON.stringify([...t1]));
    assert.deepEqual([...await tallyCalls(20, () => v2.get())], [['a-v2', 20]]);
  } finally {
    await Promise.all(sidecars.map((s) => s.close()));
    await Promise.all(servers.map((s) => s.close()));
  }
});
