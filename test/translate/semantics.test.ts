// Istio semantics checked by routing synthetic requests through the generated config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Workload } from '../../src/model/index.js';
import { createSnapshot, type ConfigSnapshot } from '../../src/registry/index.js';
import { translate, translateForGrpc, checkConsistency, type ProxyInfo, type XdsResources } from '../../src/translate/index.js';
import { TYPE } from '../../src/xds/protos.js';
import { parseResources } from './harness.js';
import { simulate, simulateWithSidecar } from './simulate.js';
import { roundTripMismatches } from './resources.js';

const SERVICES = `
apiVersion: v1
kind: Service
metadata: { name: reviews }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }, { name: http-admin, port: 9090 }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec: { host: reviews, subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }] }
`;

const WORKLOADS: Workload[] = [
  { name: 'reviews-v1', namespace: 'default', address: '127.0.1.3', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'r', ports: { http: 9080, 'http-admin': 9090 } },
  { name: 'reviews-v2', namespace: 'default', address: '127.0.1.4', labels: { app: 'reviews', version: 'v2' }, serviceAccount: 'r', ports: { http: 9080, 'http-admin': 9090 } },
  { name: 'tester', namespace: 'default', address: '127.0.1.9', labels: { app: 'tester' }, serviceAccount: 't', ports: {} },
  { name: 'other', namespace: 'other', address: '127.0.1.10', labels: { app: 'other' }, serviceAccount: 'o', ports: {} },
];

function snap(yaml: string, mesh = {}): ConfigSnapshot {
  return createSnapshot('1', parseResources(SERVICES + '---\n' + yaml, 'test'), WORKLOADS, mesh);
}

function sidecar(name: string, labels?: Record<string, string>): ProxyInfo {
  const w = WORKLOADS.find((x) => x.name === name);
  assert.ok(w);
  return { id: `sidecar~${w.address}~${name}.${w.namespace}~${w.namespace}.svc.cluster.local`, kind: 'sidecar', name, namespace: w.namespace,
    labels: labels ?? w.labels, address: w.address, serviceAccount: w.serviceAccount, workload: w };
}

function clusterFor(r: XdsResources, port: number, host: string, path = '/', headers: Record<string, string> = {}, method?: string): string | undefined {
  const res = simulate(r, { port, host, path, headers, method });
  const side = simulateWithSidecar(r, { port, host, path, headers, method });
  assert.equal(side.cluster ?? side.error, res.cluster ?? res.error, `the sidecar's router disagrees for ${host}${path}`);
  return res.cluster ?? res.error;
}

const V1 = 'outbound|9080|v1|reviews.default.svc.cluster.local';
const V2 = 'outbound|9080|v2|reviews.default.svc.cluster.local';

void test('sourceLabels: the match applies only on proxies whose labels match', () => {
  const s = snap(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - match: [{ sourceLabels: { app: tester } }]
    route: [{ destination: { host: reviews, subset: v2 } }]
  - route: [{ destination: { host: reviews, subset: v1 } }]
`);
  assert.equal(clusterFor(translate(s, sidecar('tester')), 9080, 'reviews'), V2);
  assert.equal(clusterFor(translate(s, sidecar('tester', { app: 'someone-else' })), 9080, 'reviews'), V1);
});

void test('match.port restricts a route to one port; destinations without a port use the listener port', () => {
  const s = snap(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - match: [{ port: 9090 }]
    route: [{ destination: { host: reviews, subset: v2 } }]
  - route: [{ destination: { host: reviews, subset: v1 } }]
`);
  const r = translate(s, sidecar('tester'));
  assert.equal(clusterFor(r, 9090, 'reviews:9090'), 'outbound|9090|v2|reviews.default.svc.cluster.local');
  assert.equal(clusterFor(r, 9080, 'reviews:9080'), V1);
  assert.deepEqual(checkConsistency(r), []);
});

void test('header, withoutHeaders, method, authority, query and case-insensitive uri matches', () => {
  const s = snap(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - match: [{ headers: { x-beta: {} }, withoutHeaders: { x-opt-out: { exact: "1" } } }]
    route: [{ destination: { host: reviews, subset: v2 } }]
  - match: [{ method: { exact: POST }, uri: { regex: "/api/v[0-9]+/.*" } }]
    route: [{ destination: { host: reviews, subset: v2 } }]
  - match: [{ queryParams: { canary: { exact: "yes" } } }, { uri: { prefix: /Beta }, ignoreUriCase: true }]
    route: [{ destination: { host: reviews, subset: v2 } }]
  - route: [{ destination: { host: reviews, subset: v1 } }]
`);
  const r = translate(s, sidecar('tester'));
  assert.equal(clusterFor(r, 9080, 'reviews', '/', { 'x-beta': 'anything' }), V2);
  assert.equal(clusterFor(r, 9080, 'reviews', '/', { 'x-beta': 'anything', 'x-opt-out': '1' }), V1);
  assert.equal(clusterFor(r, 9080, 'reviews', '/api/v2/x', {}, 'POST'), V2);
  assert.equal(clusterFor(r, 9080, 'reviews', '/api/v2/x', {}, 'GET'), V1);
  assert.equal(clusterFor(r, 9080, 'reviews', '/x?canary=yes'), V2);
  assert.equal(clusterFor(r, 9080, 'reviews', '/beta/page'), V2);
  assert.deepEqual(roundTripMismatches(r).map((b) => b.name), []);
});

void test('a VirtualService exported only to its namespace does not apply to proxies elsewhere', () => {
  const s = snap(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  exportTo: ["."]
  http: [{ route: [{ destination: { host: reviews, subset: v2 } }] }]
`);
  assert.equal(clusterFor(translate(s, sidecar('tester')), 9080, 'reviews'), V2);
  const other = translate(s, sidecar('other'));
  assert.equal(clusterFor(other, 9080, 'reviews.default'), 'outbound|9080||reviews.default.svc.cluster.local');
  assert.equal(simulate(other, { port: 9080, host: 'reviews' }).cluster, 'PassthroughCluster', 'short names of other namespaces are not domains');
});

void test('on the mesh gateway the first VirtualService for a host wins', () => {
  const s = snap(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: a-first, creationTimestamp: "2024-01-01T00:00:00Z" }
spec: { hosts: [reviews], http: [{ route: [{ destination: { host: reviews, subset: v2 } }] }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: b-second, creationTimestamp: "2024-01-02T00:00:00Z" }
spec: { hosts: [reviews.default.svc.cluster.local], http: [{ route: [{ destination: { host: reviews, subset: v1 } }] }] }
`);
  assert.equal(clusterFor(translate(s, sidecar('tester')), 9080, 'reviews'), V2);
});

void test('gateway: server host namespaces and wildcard intersection; VirtualServices on one host merge', () => {
  const s = snap(`
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw, namespace: istio-system }
spec:
  selector: { istio: ingressgateway }
  servers:
  - port: { number: 80, name: http, protocol: HTTP }
    hosts: ["default/*.example.com"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api, creationTimestamp: "2024-01-01T00:00:00Z" }
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/gw]
  http: [{ match: [{ uri: { prefix: /api } }], route: [{ destination: { host: reviews, port: { number: 9080 }, subset: v2 } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, creationTimestamp: "2024-01-02T00:00:00Z" }
spec:
  hosts: [shop.example.com, "*"]
  gateways: [istio-system/gw]
  http: [{ route: [{ destination: { host: reviews, port: { number: 9080 }, subset: v1 } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: foreign, namespace: other }
spec:
  hosts: [evil.example.com]
  gateways: [istio-system/gw]
  http: [{ route: [{ destination: { host: reviews.default.svc.cluster.local, port: { number: 9080 } } }] }]
`);
  const gw: ProxyInfo = { id: 'router~127.0.0.10~gw.istio-system~istio-system.svc.cluster.local', kind: 'gateway', name: 'gw', namespace: 'istio-system',
    labels: { istio: 'ingressgateway' }, address: '127.0.0.10', serviceAccount: 'gw' };
  const r = translate(s, gw);
  const listener = r.listeners.get('0.0.0.0_80') as { address: { socket_address: { port_value: number } } };
  assert.equal(listener.address.socket_address.port_value, 8080);
  assert.equal(clusterFor(r, 80, 'shop.example.com', '/api/x'), V2);
  assert.equal(clusterFor(r, 80, 'shop.example.com:8080', '/'), V1, 'VirtualServices for the same host merge; host:* matches any port');
  assert.equal(clusterFor(r, 80, 'other.example.com', '/'), V1, '"*" narrowed to the server host *.example.com');
  assert.equal(clusterFor(r, 80, 'evil.example.com', '/'), V1, 'a VirtualService from a namespace the server does not allow is ignored');
  assert.equal(simulate(r, { port: 80, host: 'example.org' }).error, 'no virtual host for example.org');
  assert.deepEqual(checkConsistency(r), []);
});

void test('an unknown subset is left to Envoy (503 NC) and flagged by checkConsistency', () => {
  const s = snap(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec: { hosts: [reviews], http: [{ route: [{ destination: { host: reviews, subset: v9 } }] }] }
`);
  assert.deepEqual(checkConsistency(translate(s, sidecar('tester'))), [
    'route config 9080 references cluster outbound|9080|v9|reviews.default.svc.cluster.local, which does not exist',
    'route config 9090 references cluster outbound|9090|v9|reviews.default.svc.cluster.local, which does not exist',
  ]);
});

void test('redirect, direct response, rewrite, mirror and CORS translate and encode', () => {
  const s = snap(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - match: [{ uri: { exact: /old } }]
    redirect: { uri: /new, redirectCode: 302 }
  - match: [{ uri: { exact: /gone } }]
    directResponse: { status: 410, body: { string: gone } }
  - match: [{ uri: { prefix: /v1 } }]
    rewrite: { uri: /, authority: reviews-internal }
    mirror: { host: reviews, subset: v2 }
    mirrorPercentage: { value: 25 }
    corsPolicy: { allowOrigins: [{ exact: "https://a.example" }], allowMethods: [GET, POST], maxAge: 24h, allowCredentials: true }
    route: [{ destination: { host: reviews, subset: v1 } }]
`);
  const r = translate(s, sidecar('tester'));
  assert.deepEqual(simulate(r, { port: 9080, host: 'reviews', path: '/old' }).redirect, { path_redirect: '/new', response_code: 'FOUND' });
  assert.equal(simulate(r, { port: 9080, host: 'reviews', path: '/gone' }).direct, 410);
  assert.equal(clusterFor(r, 9080, 'reviews', '/v1/x'), V1);
  const hcm = (r.listeners.get('0.0.0.0_9080') as { filter_chains: { filters: { typed_config: { http_filters: { name: string }[] } }[] }[] })
    .filter_chains[0].filters[0].typed_config;
  assert.deepEqual(hcm.http_filters.map((f) => f.name), ['envoy.filters.http.cors', 'envoy.filters.http.router']);
  assert.deepEqual(roundTripMismatches(r).map((b) => b.name), []);
  assert.deepEqual(checkConsistency(r), []);
});

void test('proxies of one namespace share the proxy-independent objects; a new snapshot recomputes', () => {
  const yaml = 'apiVersion: v1\nkind: Namespace\nmetadata: { name: x, namespace: x }\nspec: {}\n';
  const s = snap(yaml);
  const a = translate(s, sidecar('tester'));
  const b = translate(s, sidecar('reviews-v1'));
  assert.equal(a.routes.get('9080'), b.routes.get('9080'));
  assert.equal(a.clusters.get(V1), b.clusters.get(V1));
  assert.notEqual(a.listeners.get('virtualOutbound'), b.listeners.get('virtualOutbound'));
  const c = translate(snap(yaml), sidecar('tester'));
  assert.notEqual(a.routes.get('9080'), c.routes.get('9080'));
  assert.deepEqual(a.routes.get('9080'), c.routes.get('9080'));
});

void test('gRPC: names that resolve to nothing are absent; a host without port works for a single-port service', () => {
  const s = createSnapshot('1', parseResources(`
apiVersion: v1
kind: Service
metadata: { name: greeter }
spec: { selector: { app: greeter }, ports: [{ name: grpc, port: 50051 }] }
`, 'test'), [{ name: 'g1', namespace: 'default', address: '127.0.6.1', labels: { app: 'greeter' }, serviceAccount: 'g', ports: { grpc: 50051 } }]);
  const client: ProxyInfo = { id: 'c', kind: 'grpc', name: 'c', namespace: 'default', labels: {}, address: '', serviceAccount: 'default' };
  const lds = translateForGrpc(s, client, TYPE.listener, ['greeter', 'greeter:1', 'nosuch:80']);
  assert.deepEqual([...lds.keys()], ['greeter']);
  const rds = translateForGrpc(s, client, TYPE.route, ['greeter']) as Map<string, { virtual_hosts: { domains: string[] }[] }>;
  assert.deepEqual(rds.get('greeter')?.virtual_hosts[0].domains, ['greeter', 'greeter.default.svc.cluster.local:50051']);
  assert.equal(translateForGrpc(s, client, TYPE.cluster, ['outbound|50051|v1|greeter.default.svc.cluster.local']).size, 0, 'no such subset');
  assert.throws(() => translate(s, client), /use translateForGrpc/);
});

void test('consistentHash: RING_HASH cluster and a matching route hash policy (VirtualService and default routes)', () => {
  const s = snap(`
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews-sticky, namespace: other }
spec:
  host: reviews.default.svc.cluster.local
  trafficPolicy:
    loadBalancer: { consistentHash: { httpHeaderName: x-user, ringHash: { minimumRingSize: 1024 } } }
  subsets:
  - name: v1
    labels: { version: v1 }
    trafficPolicy: { loadBalancer: { consistentHash: { httpCookie: { name: session, ttl: 60s } } } }
`);
  const r = translate(s, sidecar('other')) as { clusters: Map<string, Record<string, unknown>>; routes: Map<string, { virtual_hosts: { name: string; routes: { route: Record<string, unknown> }[] }[] }> } & XdsResources;
  assert.equal(r.clusters.get('outbound|9080||reviews.default.svc.cluster.local')?.lb_policy, 'RING_HASH');
  const vh = r.routes.get('9080')?.virtual_hosts.find((v) => v.name === 'reviews.default.svc.cluster.local:9080');
  assert.deepEqual(vh?.routes[0].route.hash_policy, [{ header: { header_name: 'x-user' } }]);
  assert.deepEqual(roundTripMismatches(r).map((b) => b.name), []);
});

void test('a wildcard ServiceEntry (resolution NONE) gets an ORIGINAL_DST cluster and a virtual host for its wildcard', () => {
  const s = snap(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: wiki }
spec: { hosts: ["*.wikipedia.org"], resolution: NONE, ports: [{ number: 80, name: http, protocol: HTTP }] }
`, { outboundTrafficPolicy: 'REGISTRY_ONLY' });
  const r = translate(s, sidecar('tester'));
  assert.equal(clusterFor(r, 80, 'en.wikipedia.org'), 'outbound|80||*.wikipedia.org');
  assert.equal((r.clusters.get('outbound|80||*.wikipedia.org') as { type: string }).type, 'ORIGINAL_DST');
  assert.equal(simulate(r, { port: 80, host: 'example.com' }).direct, 502);
  assert.deepEqual(checkConsistency(r), []);
});

void test('odd but valid input (empty specs, no ports, no servers) translates without throwing', () => {
  const s = snap(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: empty }
spec: {}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: no-route }
spec: { hosts: [reviews], http: [{ match: [{ uri: { prefix: /x } }] }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: bare }
spec: { host: nothing-here }
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw }
spec: { selector: { app: tester }, servers: [] }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: portless }
spec: { hosts: [a.example], resolution: DNS }
---
apiVersion: v1
kind: Service
metadata: { name: headless }
spec: {}
`);
  const r = translate(s, sidecar('tester'));
  assert.deepEqual(checkConsistency(r), []);
  const gw = translate(s, { ...sidecar('tester'), kind: 'gateway' });
  assert.deepEqual([...gw.listeners.keys()], []);
  assert.deepEqual(roundTripMismatches(r).map((b) => b.name), []);
});

void test('gRPC XdsServer listeners: bound address, inline non-forwarding route, both name templates', () => {
  const s = snap('');
  const server: ProxyInfo = { id: 's', kind: 'grpc', name: 's', namespace: 'default', labels: {}, address: '127.0.1.3', serviceAccount: 'r' };
  const names = ['xds.istio.io/grpc/lds/inbound/127.0.1.3:9080', 'grpc/server?xds.resource.listening_address=127.0.1.3:40897', 'xds.istio.io/grpc/lds/inbound/not-an-ip:1'];
  const lds = translateForGrpc(s, server, TYPE.listener, names) as Map<string, { address: { socket_address: { port_value: number } } } & Record<string, unknown>>;
  assert.deepEqual([...lds.keys()], names.slice(0, 2));
  assert.equal(lds.get(names[1])?.address.socket_address.port_value, 40897);
  const rt = (lds.get(names[0]) as unknown as { filter_chains: { filters: { typed_config: { route_config: { virtual_hosts: { routes: Record<string, unknown>[] }[] } } }[] }[] })
    .filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0];
  assert.deepEqual(rt.non_forwarding_action, {});
  assert.deepEqual(roundTripMismatches({ listeners: lds, routes: new Map(), clusters: new Map(), endpoints: new Map() }).map((b) => b.name), []);
});

void test('TCP traffic shifting: a tcp route splits a TCP port between subsets in tcp_proxy', () => {
  const s = createSnapshot('1', parseResources(`
apiVersion: v1
kind: Service
metadata: { name: tcp-echo }
spec: { selector: { app: tcp-echo }, ports: [{ name: tcp, port: 9000 }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: tcp-echo }
spec: { host: tcp-echo, subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: tcp-echo }
spec:
  hosts: [tcp-echo]
  tcp:
  - match: [{ port: 9000 }]
    route:
    - { destination: { host: tcp-echo, port: { number: 9000 }, subset: v1 }, weight: 80 }
    - { destination: { host: tcp-echo, port: { number: 9000 }, subset: v2 }, weight: 20 }
`, 'tcp'), WORKLOADS);
  const r = translate(s, sidecar('tester'));
  const tp = (r.listeners.get('0.0.0.0_9000') as { filter_chains: { filters: { typed_config: Record<string, unknown> }[] }[] }).filter_chains[0].filters[0].typed_config;
  assert.deepEqual(tp.weighted_clusters, { clusters: [
    { name: 'outbound|9000|v1|tcp-echo.default.svc.cluster.local', weight: 80 },
    { name: 'outbound|9000|v2|tcp-echo.default.svc.cluster.local', weight: 20 },
  ] });
  assert.deepEqual(checkConsistency(r), []);
  assert.deepEqual(roundTripMismatches(r).map((b) => b.name), []);
});

void test('Sidecar egress hosts narrow what a proxy sees; a selector Sidecar beats the namespace default', () => {
  const s = snap(`
apiVersion: v1
kind: Service
metadata: { name: far, namespace: other }
spec: { selector: { app: far }, ports: [{ name: http, port: 7070 }] }
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default }
spec:
  egress: [{ hosts: ["./*"] }]
  outboundTrafficPolicy: { mode: REGISTRY_ONLY }
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: tester-wide }
spec:
  workloadSelector: { labels: { app: tester } }
  egress: [{ hosts: ["*/*"] }]
`);
  const narrow = translate(s, sidecar('reviews-v1'));
  assert.equal(narrow.clusters.has('outbound|7070||far.other.svc.cluster.local'), false);
  assert.equal(narrow.listeners.has('0.0.0.0_7070'), false);
  assert.equal(narrow.clusters.has(V1), true);
  assert.equal(simulate(narrow, { port: 9080, host: 'example.com' }).direct, 502, 'REGISTRY_ONLY from the Sidecar');
  const wide = translate(s, sidecar('tester'));
  assert.equal(clusterFor(wide, 7070, 'far.other:7070'), 'outbound|7070||far.other.svc.cluster.local');
  assert.equal(clusterFor(wide, 9080, 'example.com'), 'PassthroughCluster');
  assert.deepEqual(checkConsistency(narrow), []);
  assert.deepEqual(checkConsistency(wide), []);
});

void test('locality failover: with outlierDetection, localities get contiguous priorities by closeness to the proxy', () => {
  const s = createSnapshot('1', parseResources(`
apiVersion: v1
kind: Service
metadata: { name: web }
spec: { selector: { app: web }, ports: [{ name: http, port: 80 }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: web }
spec:
  host: web
  trafficPolicy:
    outlierDetection: { consecutive5xxErrors: 3, interval: 5s }
    loadBalancer: { localityLbSetting: { failover: [{ from: us-east, to: eu-west }] } }
`, 'loc'), [
    { name: 'a', namespace: 'default', address: '127.0.8.1', labels: { app: 'web' }, serviceAccount: 'w', ports: { http: 80 }, locality: 'us-east/zone-a' },
    { name: 'b', namespace: 'default', address: '127.0.8.2', labels: { app: 'web' }, serviceAccount: 'w', ports: { http: 80 }, locality: 'us-east/zone-b' },
    { name: 'c', namespace: 'default', address: '127.0.8.3', labels: { app: 'web' }, serviceAccount: 'w', ports: { http: 80 }, locality: 'eu-west/zone-1' },
    { name: 'd', namespace: 'default', address: '127.0.8.4', labels: { app: 'web' }, serviceAccount: 'w', ports: { http: 80 }, locality: 'ap-south/zone-1' },
    { name: 'client', namespace: 'default', address: '127.0.8.9', labels: { app: 'client' }, serviceAccount: 'c', ports: {}, locality: 'us-east/zone-a' },
  ]);
  const client: ProxyInfo = { id: 'sidecar~127.0.8.9~client.default~default.svc.cluster.local', kind: 'sidecar', name: 'client', namespace: 'default',
    labels: { app: 'client' }, address: '127.0.8.9', serviceAccount: 'c' };
  const r = translate(s, client);
  const cla = r.endpoints.get('outbound|80||web.default.svc.cluster.local') as { endpoints: { locality: { region: string; zone: string }; priority?: number }[] };
  assert.deepEqual(cla.endpoints.map((e) => [`${e.locality.region}/${e.locality.zone}`, e.priority ?? 0]),
    [['ap-south/zone-1', 3], ['eu-west/zone-1', 2], ['us-east/zone-a', 0], ['us-east/zone-b', 1]]);
  assert.deepEqual(roundTripMismatches(r).map((b) => b.name), []);
  const far = translate(s, { ...client, id: 'x', locality: 'ap-south/zone-9' });
  const farCla = far.endpoints.get('outbound|80||web.default.svc.cluster.local') as typeof cla;
  assert.deepEqual(farCla.endpoints.map((e) => e.priority ?? 0), [0, 1, 1, 1], 'same region first, then everything else (no gaps)');
});

void test('delegate: the delegate VirtualService routes replace the root route, matches AND-ed', () => {
  const s = snap(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: root }
spec:
  hosts: [reviews]
  http:
  - match: [{ uri: { prefix: /api }, headers: { x-team: { exact: a } } }]
    delegate: { name: reviews-api, namespace: team-a }
  - route: [{ destination: { host: reviews, subset: v1 } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews-api, namespace: team-a }
spec:
  http:
  - name: beta
    match: [{ uri: { prefix: /api/beta } }]
    route: [{ destination: { host: reviews.default.svc.cluster.local, subset: v2 } }]
  - route: [{ destination: { host: reviews.default.svc.cluster.local, subset: v1 } }]
`);
  const r = translate(s, sidecar('tester'));
  assert.equal(clusterFor(r, 9080, 'reviews', '/api/beta/x', { 'x-team': 'a' }), V2);
  assert.equal(clusterFor(r, 9080, 'reviews', '/api/beta/x'), V1, 'root header condition still applies');
  assert.equal(clusterFor(r, 9080, 'reviews', '/api/other', { 'x-team': 'a' }), V1);
  assert.deepEqual(checkConsistency(r), []);
});
