// Istio routing semantics checked by sending synthetic requests through the generated config
// (and through the sidecar's own router, see semantics-fixtures.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { translate, checkConsistency, type ProxyInfo } from '../../src/translate/index.js';
import { simulate } from './simulate.js';
import { roundTripMismatches } from './resources.js';
import { snap, sidecar, clusterFor, V1, V2 } from './semantics-fixtures.js';

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

