// Translation of traffic policy, scoping and the less common resource shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSnapshot } from '../../src/registry/index.js';
import { translate, translateForGrpc, checkConsistency, type ProxyInfo, type XdsResources } from '../../src/translate/index.js';
import { TYPE } from '../../src/xds/protos.js';
import { parseResources } from './harness.js';
import { simulate } from './simulate.js';
import { roundTripMismatches } from './resources.js';
import { WORKLOADS, snap, sidecar, clusterFor, V1 } from './semantics-fixtures.js';

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
  const lds = translateForGrpc(s, client, TYPE.listener, ['greeter', 'greeter:1', 'nosuch:80', 'greeter.default:50051', 'greeter.default.svc:50051']);
  assert.deepEqual([...lds.keys()], ['greeter', 'greeter.default:50051', 'greeter.default.svc:50051']);
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

