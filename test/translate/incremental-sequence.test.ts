// A sequence of config changes (VirtualServices added, modified, deleted; a ServiceEntry, a
// DestinationRule, a Sidecar, a service's ports) applied the way weftd applies them
// (SnapshotInputCache + inheritClusterMemos + translateShared): after every step each proxy's
// resources must deep-equal a translation from scratch of the same config. Steps that change only
// VirtualServices' HTTP routes must take the patching path (registry.routeChanges).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource, Workload } from '../../src/model/index.js';
import { createSnapshot, inheritClusterMemos, registryFor, SnapshotInputCache, type ConfigSnapshot } from '../../src/registry/index.js';
import { translate, translateShared, type ProxyInfo, type XdsResources } from '../../src/translate/index.js';

type Res = Resource<Record<string, unknown>>;
const NET = 'networking.istio.io/v1';
let rv = 0;
const meta = (name: string, namespace: string) => ({ name, namespace, uid: `uid-${namespace}-${name}`, resourceVersion: String(++rv) });
const service = (name: string, namespace: string, ports: number[]): Res => ({ apiVersion: 'v1', kind: 'Service', metadata: meta(name, namespace),
  spec: { selector: { app: name }, ports: ports.map((port, i) => ({ name: `http-${i}`, port })) } });
const dr = (host: string, namespace: string, spec: Record<string, unknown> = {}): Res => ({ apiVersion: NET, kind: 'DestinationRule', metadata: meta(host, namespace),
  spec: { host, subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }], ...spec } });
const vs = (name: string, namespace: string, spec: Record<string, unknown>): Res => ({ apiVersion: NET, kind: 'VirtualService', metadata: meta(name, namespace), spec });
const split = (host: string, w1: number, extra: Record<string, unknown> = {}) => ({ hosts: [host], http: [{ ...extra,
  route: [{ destination: { host, subset: 'v1' }, weight: w1 }, { destination: { host, subset: 'v2' }, weight: 100 - w1 }] }] });

const workloads: Workload[] = [];
for (const [name, namespace, port] of [['reviews', 'a', 9080], ['ratings', 'a', 9080], ['details', 'a', 9080], ['web', 'b', 8080], ['api', 'b', 9080]] as const) {
  for (const v of ['v1', 'v2']) {
    const n = workloads.length + 2;
    workloads.push({ name: `${name}-${v}`, namespace, address: `127.0.9.${n}`, labels: { app: name, version: v }, serviceAccount: name, ports: { http: port } });
  }
}
const proxyOf = (w: Workload): ProxyInfo => ({ id: `sidecar~${w.address}~${w.name}.${w.namespace}~${w.namespace}.svc.cluster.local`, kind: 'sidecar',
  name: w.name, namespace: w.namespace, labels: w.labels, address: w.address, serviceAccount: w.serviceAccount, workload: w });
const proxies = [proxyOf(workloads[0]), proxyOf(workloads[3]), proxyOf(workloads[6]), proxyOf(workloads[9])];

function initial(): Map<string, Res> {
  const m = new Map<string, Res>();
  const put = (r: Res) => m.set(`${r.kind}/${r.metadata.namespace}/${r.metadata.name}`, r);
  for (const [name, ns, ports] of [['reviews', 'a', [9080]], ['ratings', 'a', [9080]], ['details', 'a', [9080]], ['web', 'b', [8080]], ['api', 'b', [9080]]] as const) {
    put(service(name, ns, [...ports]));
    put(dr(name, ns));
  }
  put(vs('reviews', 'a', split('reviews', 90)));
  put(vs('details', 'a', split('details', 50)));
  put(vs('web', 'b', split('web', 100)));
  return m;
}

interface Step { what: string; routeOnly: boolean; apply(m: Map<string, Res>): void }
const set = (m: Map<string, Res>, r: Res) => m.set(`${r.kind}/${r.metadata.namespace}/${r.metadata.name}`, r);
const steps: Step[] = [
  { what: 'one VirtualService weight', routeOnly: true, apply: (m) => set(m, vs('reviews', 'a', split('reviews', 70))) },
  { what: 'two VirtualServices in two namespaces', routeOnly: true, apply: (m) => { set(m, vs('reviews', 'a', split('reviews', 10))); set(m, vs('web', 'b', split('web', 30))); } },
  { what: 'a fault (the listener gains the fault filter)', routeOnly: true,
    apply: (m) => set(m, vs('details', 'a', split('details', 50, { fault: { abort: { httpStatus: 503, percentage: { value: 10 } } } }))) },
  { what: 'a CORS policy', routeOnly: true, apply: (m) => set(m, vs('web', 'b', split('web', 30, { corsPolicy: { allowOrigins: [{ exact: 'https://a.example' }], allowMethods: ['GET'] } }))) },
  { what: 'the fault removed', routeOnly: true, apply: (m) => set(m, vs('details', 'a', split('details', 40))) },
  { what: 'routes only on another port (no virtual host left)', routeOnly: true,
    apply: (m) => set(m, vs('details', 'a', { hosts: ['details'], http: [{ match: [{ port: 7777 }], route: [{ destination: { host: 'details', subset: 'v1' } }] }] })) },
  { what: 'routes back', routeOnly: true, apply: (m) => set(m, vs('details', 'a', split('details', 60))) },
  { what: 'a VirtualService added', routeOnly: false, apply: (m) => set(m, vs('ratings', 'a', split('ratings', 80))) },
  { what: 'its weight', routeOnly: true, apply: (m) => set(m, vs('ratings', 'a', split('ratings', 20))) },
  { what: 'a VirtualService host added', routeOnly: false, apply: (m) => set(m, vs('ratings', 'a', { ...split('ratings', 20), hosts: ['ratings', 'api.b.svc.cluster.local'] })) },
  { what: 'a VirtualService deleted', routeOnly: false, apply: (m) => m.delete('VirtualService/a/ratings') },
  { what: 'a ServiceEntry added', routeOnly: false, apply: (m) => set(m, { apiVersion: NET, kind: 'ServiceEntry', metadata: meta('ext', 'a'),
    spec: { hosts: ['ext.example.com'], location: 'MESH_EXTERNAL', resolution: 'DNS', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }] } }) },
  { what: 'a VirtualService for it', routeOnly: false, apply: (m) => set(m, vs('ext', 'a', { hosts: ['ext.example.com'], http: [{ route: [{ destination: { host: 'ext.example.com' } }], timeout: '3s' }] })) },
  { what: 'a VirtualService on a host no service defines', routeOnly: false, apply: (m) => set(m, vs('nowhere', 'a', { hosts: ['nowhere.example.com'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v2' } }] }] })) },
  { what: 'its routes', routeOnly: true, apply: (m) => set(m, vs('nowhere', 'a', { hosts: ['nowhere.example.com'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }], retries: { attempts: 2 } }] })) },
  { what: 'the external VirtualService timeout', routeOnly: true, apply: (m) => set(m, vs('ext', 'a', { hosts: ['ext.example.com'], http: [{ route: [{ destination: { host: 'ext.example.com' } }], timeout: '9s' }] })) },
  { what: 'a DestinationRule (consistent hash)', routeOnly: false,
    apply: (m) => set(m, dr('reviews', 'a', { trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } } })) },
  { what: 'then a VirtualService of that host', routeOnly: true, apply: (m) => set(m, vs('reviews', 'a', split('reviews', 55))) },
  { what: 'a Sidecar narrowing namespace b', routeOnly: false, apply: (m) => set(m, { apiVersion: NET, kind: 'Sidecar', metadata: meta('default', 'b'),
    spec: { egress: [{ hosts: ['./*', 'a/reviews.a.svc.cluster.local'] }] } }) },
  { what: 'a VirtualService seen through it', routeOnly: true, apply: (m) => set(m, vs('reviews', 'a', split('reviews', 45))) },
  { what: 'a service gains a port', routeOnly: false, apply: (m) => set(m, service('reviews', 'a', [9080, 9090])) },
  { what: 'a VirtualService on both ports', routeOnly: true, apply: (m) => set(m, vs('reviews', 'a', split('reviews', 35))) },
  { what: 'exportTo narrowed', routeOnly: false, apply: (m) => set(m, vs('reviews', 'a', { ...split('reviews', 35), exportTo: ['.'] })) },
  { what: 'the Sidecar deleted', routeOnly: false, apply: (m) => m.delete('Sidecar/b/default') },
  { what: 'the ServiceEntry deleted', routeOnly: false, apply: (m) => m.delete('ServiceEntry/a/ext') },
  { what: 'a VirtualService of the deleted ServiceEntry', routeOnly: true, apply: (m) => set(m, vs('ext', 'a', { hosts: ['ext.example.com'], http: [{ route: [{ destination: { host: 'ext.example.com' } }], timeout: '1s' }] })) },
];

const plain = (r: XdsResources): unknown => JSON.parse(JSON.stringify({
  listeners: [...r.listeners], routes: [...r.routes], clusters: [...r.clusters], endpoints: [...r.endpoints] }));

void test('after every change of a sequence, the incremental translation equals a translation from scratch', () => {
  const config = initial();
  const inputs = new SnapshotInputCache();
  let prev: ConfigSnapshot | undefined;
  let patched = 0;
  for (const [i, step] of [{ what: 'initial', routeOnly: false, apply: () => {} }, ...steps].entries()) {
    step.apply(config);
    const snap = createSnapshot(`s${i}`, inputs.resourcesOf([...config.values()]), inputs.workloadsOf(workloads));
    if (prev) inheritClusterMemos(prev, snap);
    assert.equal(registryFor(snap).routeChanges !== undefined, step.routeOnly && i > 0, `step ${i} (${step.what}): patching path taken or not as expected`);
    if (registryFor(snap).routeChanges) patched++;
    const fresh = createSnapshot(`f${i}`, structuredClone([...config.values()]), structuredClone(workloads));
    for (const p of proxies) {
      const got = plain(translateShared(snap, p));
      assert.deepEqual(got, plain(translate(fresh, p)), `step ${i} (${step.what}), proxy ${p.namespace}/${p.name}`);
    }
    prev = snap;
  }
  assert.ok(patched >= 10);
});

void test('a route-only change leaves the route configs it does not touch the same objects', () => {
  const config = initial();
  const inputs = new SnapshotInputCache();
  set(config, service('web', 'b', [8080]));
  const a = createSnapshot('a', inputs.resourcesOf([...config.values()]), inputs.workloadsOf(workloads));
  const ra = translateShared(a, proxies[0]);
  set(config, vs('web', 'b', split('web', 10)));
  const b = createSnapshot('b', inputs.resourcesOf([...config.values()]), inputs.workloadsOf(workloads));
  inheritClusterMemos(a, b);
  const rb = translateShared(b, proxies[0]);
  assert.equal(rb.routes.get('9080'), ra.routes.get('9080'), 'port 9080 has no virtual host of the changed VirtualService');
  assert.notEqual(rb.routes.get('8080'), ra.routes.get('8080'));
  const hosts = (r: XdsResources) => (r.routes.get('8080') as { virtual_hosts: object[] }).virtual_hosts;
  assert.equal(hosts(rb).length, hosts(ra).length);
  assert.equal(hosts(rb).filter((h, i) => h !== hosts(ra)[i]).length, 1, 'one virtual host replaced');
  assert.equal(rb.listeners, ra.listeners, 'no listener changed: the same listeners Map');
  assert.deepEqual(plain(rb), plain(translate(createSnapshot('b2', structuredClone([...config.values()]), workloads), proxies[0])));
});
