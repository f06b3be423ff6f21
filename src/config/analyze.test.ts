import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '../model/index.js';
import { analyze, attachSources, parseText } from './index.js';

function load(yaml: string): Resource[] {
  const r = parseText(yaml, 'a.yaml');
  assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error'), []);
  return r.documents.map((d) => d.resource);
}

const BASE = `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {selector: {app: reviews}, ports: [{name: http, port: 9080}]}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: shop}
spec: {hosts: ["*.example.com"], ports: [{number: 443, name: tls, protocol: TLS}], resolution: NONE}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec: {host: reviews, subsets: [{name: v1, labels: {version: v1}}]}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: edge}
spec: {servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]}
`;

void test('resolvable references produce no findings', () => {
  const rs = load(`${BASE}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ok, namespace: shop}
spec:
  hosts: [reviews]
  gateways: [mesh, edge/gw]
  http:
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 90}
    - {destination: {host: reviews.shop.svc.cluster.local}, weight: 10}
    mirror: {host: api.example.com}
`);
  assert.deepEqual(analyze(rs), []);
});

void test('IST0101: missing gateway, host and subset; IST0174: DestinationRule host without service', () => {
  const rs = load(`${BASE}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: broken, namespace: shop}
spec:
  hosts: [reviews.example.org]
  gateways: [gw]
  http:
  - route:
    - {destination: {host: ratings}, weight: 50}
    - {destination: {host: reviews, subset: v2}, weight: 50}
  tcp:
  - route:
    - {destination: {host: db.other}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: orphan, namespace: shop}
spec: {host: details}
`);
  assert.deepEqual(analyze(rs).map((d) => [d.severity, d.code, d.kind, d.name, d.path, d.message]), [
    ['warning', 'IST0101', 'VirtualService', 'broken', 'spec.gateways[0]', 'Referenced gateway not found: "gw"'],
    ['warning', 'IST0101', 'VirtualService', 'broken', 'spec.http[0].route[0].destination.host', 'Referenced host not found: "ratings" (no Service or ServiceEntry for ratings.shop.svc.cluster.local)'],
    ['warning', 'IST0101', 'VirtualService', 'broken', 'spec.http[0].route[1].destination.subset', 'Referenced host+subset in destinationrule not found: "reviews+v2"'],
    ['warning', 'IST0101', 'VirtualService', 'broken', 'spec.tcp[0].route[0].destination.host', 'Referenced host not found: "db.other" (no Service or ServiceEntry for db.other.svc.cluster.local)'],
    ['warning', 'IST0174', 'DestinationRule', 'orphan', 'spec.host', 'host "details" matches no Service or ServiceEntry'],
  ]);
});

void test('IST0109: two mesh VirtualServices for one host, but not gateway-only ones', () => {
  const vs = (name: string, host: string, gateways = ''): string => `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: shop}
spec:
  hosts: [${host}]${gateways}
  http: [{route: [{destination: {host: reviews}}]}]
`;
  const rs = load(BASE + vs('a', 'reviews') + vs('b', 'reviews.shop.svc.cluster.local') + vs('c', 'reviews', '\n  gateways: [edge/gw]'));
  const found = analyze(rs);
  assert.deepEqual(found.map((d) => [d.code, d.name]), [['IST0109', 'a'], ['IST0109', 'b']]);
  assert.match(found[0].message, /shop\/a, shop\/b associated with mesh gateway define the same host "reviews\.shop\.svc\.cluster\.local"/);
});

void test('IST0128: SIMPLE or MUTUAL client TLS without caCertificates', () => {
  const rs = load(`${BASE}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ext, namespace: shop}
spec:
  host: api.example.com
  trafficPolicy:
    tls: {mode: SIMPLE}
  subsets:
  - name: verified
    trafficPolicy: {tls: {mode: SIMPLE, caCertificates: /etc/ca.pem}}
  - name: mutual
    trafficPolicy: {tls: {mode: MUTUAL, clientCertificate: /c.pem, privateKey: /k.pem}}
`);
  assert.deepEqual(analyze(rs).map((d) => [d.code, d.path]), [
    ['IST0128', 'spec.trafficPolicy.tls'],
    ['IST0128', 'spec.subsets[1].trafficPolicy.tls'],
  ]);
});

void test('attachSources gives analyzer findings the position of their document', () => {
  const r = parseText(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: v, namespace: shop}
spec:
  hosts: [nowhere]
  http: [{route: [{destination: {host: nowhere}}]}]
`, 'vs.yaml');
  const found = attachSources(analyze(r.documents.map((d) => d.resource)), r.documents);
  assert.deepEqual(found.map((d) => [d.code, d.file, d.line, d.column]), [['IST0101', 'vs.yaml', 1, 1]]);
});
