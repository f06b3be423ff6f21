import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDiagnostic, hasErrors, parseText, validateResource, type Diagnostic } from './index.js';

const errors = (ds: Diagnostic[]): Diagnostic[] => ds.filter((d) => d.severity === 'error');

const THREE_DOCS = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
  namespace: shop
spec:
  host: reviews
---
# a comment line
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
    timeout: 2x
`;

void test('positions are exact across several documents, and each document records where it starts', () => {
  const r = parseText(THREE_DOCS, 'vs.yaml');
  const es = errors(r.diagnostics);
  assert.equal(es.length, 1);
  assert.deepEqual(es[0], {
    severity: 'error', code: 'WEFT-DURATION', message: 'invalid duration "2x" (use e.g. 2s, 500ms, 1m)',
    path: 'spec.http[0].timeout', file: 'vs.yaml', line: 26, column: 14, kind: 'VirtualService', namespace: 'default', name: 'reviews',
  });
  assert.equal(formatDiagnostic(es[0]),
    'vs.yaml:26:14: error: VirtualService default/reviews: spec.http[0].timeout: invalid duration "2x" (use e.g. 2s, 500ms, 1m)');
  assert.deepEqual(r.documents.map((d) => [d.resource.kind, d.source?.line, d.source?.column]), [['Namespace', 1, 1], ['DestinationRule', 6, 1]]);
});

void test('namespaces default to opts.defaultNamespace, Namespace has none, and the spec is kept exactly as written', () => {
  const r = parseText(THREE_DOCS.replace('timeout: 2x', 'timeout: 2s'), 'x.yaml', { defaultNamespace: 'dev' });
  assert.equal(hasErrors(r.diagnostics), false);
  const [ns, dr, vs] = r.documents.map((d) => d.resource);
  assert.equal(ns.metadata.namespace, undefined);
  assert.equal(dr.metadata.namespace, 'shop');
  assert.equal(vs.metadata.namespace, 'dev');
  assert.equal(vs.apiVersion, 'networking.istio.io/v1beta1');
  assert.deepEqual(vs.spec, { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }], timeout: '2s' }] });
  assert.deepEqual(ns.spec, {});
});

void test('JSON input is parsed with positions, and broken JSON says where', () => {
  const json = '{\n  "apiVersion": "networking.istio.io/v1",\n  "kind": "DestinationRule",\n  "metadata": {"name": "r"},\n  "spec": {"host": "reviews", "subsets": [{"name": "v1", "labelz": {}}]}\n}\n';
  const r = parseText(json, 'dr.json');
  const [e] = errors(r.diagnostics);
  assert.match(e.message, /unknown field "labelz" \(did you mean "labels"\?\)/);
  assert.equal(e.path, 'spec.subsets[0].labelz');
  assert.deepEqual([e.line, e.column], [5, 58]); // the key "labelz"
  const broken = parseText('{"apiVersion": "v1",\n "kind": "Namespace"\n "metadata": {}}', 'ns.json');
  assert.equal(broken.diagnostics[0].code, 'WEFT-PARSE');
  assert.match(broken.diagnostics[0].message, /^invalid JSON: /);
  assert.equal(broken.diagnostics[0].line, 3);
});

void test('a Kubernetes List is expanded and item paths point into items[]', () => {
  const list = `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: reviews}
  spec:
    ports: [{name: http, port: 9080}]
- apiVersion: v1
  kind: Service
  metadata: {name: ratings}
  spec:
    ports: [{name: http, port: 0}]
`;
  const r = parseText(list, 'list.yaml');
  assert.deepEqual(r.documents.map((d) => d.resource.metadata.name), ['reviews']);
  const [e] = errors(r.diagnostics);
  assert.equal(e.path, 'items[1].spec.ports[0].port');
  assert.deepEqual([e.line, e.column, e.name], [13, 32, 'ratings']);
});

void test('deprecated fields Istio still serves are accepted with a warning', () => {
  const vs = `apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: {name: r}
spec:
  hosts: [r]
  http:
  - route: [{destination: {host: r}}]
    mirror: {host: shadow}
    mirror_percent: 10
    fault:
      delay: {fixedDelay: 1s, percent: 5}
  - route: [{destination: {host: r}}]
    mirror: {host: shadow}
    mirrorPercent: 20
    corsPolicy: {allowOrigin: ["*"]}
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: r}
spec:
  host: r
  trafficPolicy:
    loadBalancer: {simple: LEAST_CONN}
    outlierDetection: {consecutiveErrors: 5}
`;
  const r = parseText(vs, 'dep.yaml');
  assert.equal(hasErrors(r.diagnostics), false, r.diagnostics.map(formatDiagnostic).join('\n'));
  assert.equal(r.documents.length, 2);
  assert.deepEqual(r.diagnostics.map((d) => [d.code, d.path]), [
    ['WEFT-DEPRECATED', 'spec.http[0].mirror_percent'],
    ['WEFT-DEPRECATED', 'spec.http[0].fault.delay.percent'],
    ['WEFT-DEPRECATED', 'spec.http[1].mirrorPercent'],
    ['WEFT-DEPRECATED', 'spec.http[1].corsPolicy.allowOrigin'],
    ['WEFT-DEPRECATED', 'spec.trafficPolicy.loadBalancer.simple'],
    ['WEFT-DEPRECATED', 'spec.trafficPolicy.outlierDetection.consecutiveErrors'],
  ]);
  assert.equal((r.documents[0].resource.spec as { http: { mirror_percent?: number }[] }).http[0].mirror_percent, 10);
});

void test('ServiceAccount is a warning without a document; Deployment is an error pointing at weft run', () => {
  const r = parseText('apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: bookinfo-reviews}\n---\n'
    + 'apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db, labels: {app: db}}\nspec:\n  template:\n    spec:\n      containers: [{name: db, ports: [{containerPort: 5432}]}]\n', 'w.yaml');
  assert.equal(r.documents.length, 0);
  assert.equal(r.diagnostics[0].severity, 'warning');
  assert.match(r.diagnostics[0].message, /weft run --service-account/);
  assert.equal(r.diagnostics[1].severity, 'error');
  assert.match(r.diagnostics[1].message, /`weft run --service db --port 5432 --version V -- COMMAND` \(or run Weft on Kubernetes\)/);
});

void test('a 10 MB document is refused quickly with a clear message, and later documents still load', () => {
  let big = 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: big\nspec:\n  hosts: [big]\n  http:\n';
  const route = '  - match:\n    - uri:\n        prefix: /p\n    route:\n    - destination:\n        host: big\n';
  big += route.repeat(Math.ceil((10 * 1024 * 1024) / route.length));
  const lines = big.split('\n').length; // the `---` line; the next document starts one line later
  big += '---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: after\n';
  const t0 = Date.now();
  const r = parseText(big, 'big.yaml');
  assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  assert.equal(r.diagnostics.length, 1);
  assert.equal(r.diagnostics[0].code, 'WEFT-TOO-LARGE');
  assert.match(r.diagnostics[0].message, /document is 10\.0 MiB, larger than the 1\.5 MiB limit/);
  assert.deepEqual(r.documents.map((d) => [d.resource.metadata.name, d.source?.line]), [['after', lines + 1]]);
});

void test('YAML alias bombs and empty input give errors, not hangs', () => {
  const bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n';
  const r = parseText(bomb, 'bomb.yaml');
  assert.equal(r.diagnostics[0].code, 'WEFT-PARSE');
  assert.match(r.diagnostics[0].message, /alias/i);
  assert.equal(parseText('', 'e.yaml').diagnostics[0].code, 'WEFT-EMPTY');
  assert.equal(parseText('\n# just a comment\n---\n', 'e.yaml').diagnostics[0].code, 'WEFT-EMPTY');
});

void test('validateResource checks REST bodies without positions', () => {
  const ok = validateResource({ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'default' }, spec: { mtls: { mode: 'STRICT' } } });
  assert.deepEqual(ok, []);
  const bad = validateResource({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'ext', namespace: 'shop' }, spec: { action: 'CUSTOM' } }, { file: 'body' });
  assert.deepEqual(bad, [{
    severity: 'error', code: 'WEFT-PROVIDER', message: 'action CUSTOM needs provider.name (an extension provider from the mesh config)',
    path: 'spec.provider', file: 'body', kind: 'AuthorizationPolicy', namespace: 'shop', name: 'ext',
  }]);
  assert.equal(formatDiagnostic(bad[0]), 'body: error: AuthorizationPolicy shop/ext: spec.provider: action CUSTOM needs provider.name (an extension provider from the mesh config)');
  assert.equal(validateResource('nope')[0].code, 'WEFT-NOT-OBJECT');
  assert.equal(hasErrors([{ severity: 'warning', code: 'X', message: 'w' }]), false);
});
