import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type protobuf from 'protobufjs';
import { parseText } from '../config/index.js';
import type { Resource, Workload } from '../model/index.js';
import { createSnapshot } from '../registry/index.js';
import { parseNodeId, translate, withWorkload } from '../translate/index.js';
import { ENVOY_DESCRIPTOR } from './envoy-descriptor.generated.js';
import { descriptorModuleText, loadProtoFiles, type EnvoyDescriptor } from './proto-descriptor.js';
import { lazyRootFromDescriptor } from './proto-root.js';
import { PROTO_FILES, TYPE, envoyRoot, typeNameOfUrl } from './protos.js';

const srcFile = (rel: string) => fileURLToPath(new URL(`../../../src/xds/${rel}`, import.meta.url));

void test('envoy-descriptor.generated.ts is what PROTO_FILES generate (else run npm run gen:protos)', () => {
  const expected = descriptorModuleText(PROTO_FILES);
  assert.equal(readFileSync(srcFile('envoy-descriptor.generated.ts'), 'utf8'), expected, 'src/xds/envoy-descriptor.generated.ts is stale: run npm run gen:protos');
  assert.deepEqual((JSON.parse(ENVOY_DESCRIPTOR) as { protoFiles: string[] }).protoFiles, [...PROTO_FILES]);
});

const YAML = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: bookinfo }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: db, namespace: bookinfo }
spec: { selector: { app: db }, ports: [{ name: tcp, port: 5432 }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: bookinfo }
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: { consistentHash: { httpHeaderName: x-user } }
    connectionPool: { http: { http1MaxPendingRequests: 10 }, tcp: { maxConnections: 5 } }
    outlierDetection: { consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 30s }
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: bookinfo }
spec:
  hosts: [reviews]
  http:
  - match: [{ headers: { end-user: { exact: jason } }, uri: { prefix: /r } }]
    fault: { delay: { percentage: { value: 50 }, fixedDelay: 2s }, abort: { percentage: { value: 10 }, httpStatus: 503 } }
    route: [{ destination: { host: reviews, subset: v2 } }]
  - route: [{ destination: { host: reviews, subset: v1 }, weight: 90 }, { destination: { host: reviews, subset: v2 }, weight: 10 }]
    retries: { attempts: 3, perTryTimeout: 1s, retryOn: '5xx,reset' }
    timeout: 5s
    mirror: { host: reviews, subset: v2 }
    corsPolicy: { allowOrigins: [{ exact: https://a.example }], allowMethods: [GET] }
    headers: { request: { set: { x-a: b } }, response: { remove: [x-c] } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: bookinfo }
spec: { mtls: { mode: STRICT } }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: reviews, namespace: bookinfo }
spec:
  selector: { matchLabels: { app: reviews } }
  rules:
  - from: [{ source: { principals: [cluster.local/ns/bookinfo/sa/productpage] } }]
    to: [{ operation: { methods: [GET], paths: ['/r*'] } }]
    when: [{ key: 'request.auth.claims[iss]', values: [a] }]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: reviews, namespace: bookinfo }
spec:
  selector: { matchLabels: { app: reviews } }
  jwtRules: [{ issuer: a, jwks: '{"keys":[]}', forwardOriginalToken: true }]
`;

/** Every resource a richly configured sidecar gets, as { type name, object }. */
function sampleResources(): { type: string; obj: object }[] {
  const parsed = parseText(YAML, 'sample.yaml');
  assert.deepEqual(parsed.diagnostics.filter((d) => d.severity === 'error'), []);
  const resources: Resource[] = parsed.documents.map((d) => d.resource);
  const workloads: Workload[] = [
    { name: 'reviews-v1', namespace: 'bookinfo', address: '127.1.0.2', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'reviews', ports: { http: 9080 } },
    { name: 'reviews-v2', namespace: 'bookinfo', address: '127.1.0.3', labels: { app: 'reviews', version: 'v2' }, serviceAccount: 'reviews', ports: { http: 9080 } },
    { name: 'db-0', namespace: 'bookinfo', address: '127.1.0.4', labels: { app: 'db' }, serviceAccount: 'db', ports: { tcp: 5432 } },
  ];
  const snap = createSnapshot('1', resources, workloads);
  const proxy = withWorkload(parseNodeId('sidecar~127.1.0.2~reviews-v1.bookinfo~bookinfo.svc.cluster.local'), snap);
  const x = translate(snap, proxy);
  const of = (url: string, m: Map<string, object>) => [...m.values()].map((obj) => ({ type: typeNameOfUrl(url), obj }));
  return [...of(TYPE.listener, x.listeners), ...of(TYPE.route, x.routes), ...of(TYPE.cluster, x.clusters), ...of(TYPE.endpoint, x.endpoints)];
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: String, defaults: false, oneofs: false, json: true, arrays: true };

void test('the descriptor encodes and decodes translated resources exactly as the parsed .proto files do', () => {
  const parsed = loadProtoFiles(PROTO_FILES);
  const fromDescriptor = envoyRoot();
  const samples = sampleResources();
  assert.ok(samples.length >= 10, `only ${samples.length} resources`);
  const text = JSON.stringify(samples);
  for (const needle of ['HttpConnectionManager', 'TcpProxy', 'rbac.v3.RBAC', 'jwt_authn', 'fault.v3.HTTPFault', 'cors.v3', 'DownstreamTlsContext', 'UpstreamTlsContext']) {
    assert.ok(text.includes(needle), `the sample config has no ${needle}`);
  }
  for (const { type, obj } of samples) {
    const a = parsed.lookupType(type);
    const b = fromDescriptor.lookupType(type);
    const bytesA = a.encode(a.fromObject(obj)).finish();
    const bytesB = b.encode(b.fromObject(obj)).finish();
    assert.deepEqual(Buffer.from(bytesB), Buffer.from(bytesA), `${type} ${(obj as { name?: string }).name ?? ''}`);
    assert.deepEqual(b.toObject(b.decode(bytesA), TO_OBJECT), a.toObject(a.decode(bytesA), TO_OBJECT));
  }
});

/** Messages and enums a Root holds. */
function countTypes(ns: protobuf.NamespaceBase): number {
  let n = 0;
  for (const o of ns.nestedArray) {
    if ('fieldsArray' in o || 'valuesById' in o) n++;
    if ('nestedArray' in o) n += countTypes(o as protobuf.NamespaceBase);
  }
  return n;
}

void test('a Root filled on demand decodes and encodes as the parsed .proto files do, loading only what it meets', () => {
  const parsed = loadProtoFiles(PROTO_FILES);
  const lazy = lazyRootFromDescriptor(JSON.parse(ENVOY_DESCRIPTOR) as EnvoyDescriptor);
  lazy.ensure('envoy.service.discovery.v3.DiscoveryRequest');
  const forRequest = countTypes(lazy.root);
  assert.ok(forRequest > 0 && forRequest < 40, `a DiscoveryRequest needs ${forRequest} types`);
  // Decoding first (Any payloads such as the HCM load as they are met), then encoding.
  for (const { type, obj } of sampleResources()) {
    const a = parsed.lookupType(type);
    const bytes = a.encode(a.fromObject(obj)).finish();
    lazy.ensure(type);
    const b = lazy.root.lookupType(type);
    assert.deepEqual(b.toObject(b.decode(bytes), TO_OBJECT), a.toObject(a.decode(bytes), TO_OBJECT), `${type} ${(obj as { name?: string }).name ?? ''}`);
    assert.deepEqual(Buffer.from(b.encode(b.fromObject(obj)).finish()), Buffer.from(bytes));
    assert.equal(b.verify(a.toObject(a.decode(bytes))), null);
  }
  const used = countTypes(lazy.root);
  lazy.ensureAll();
  const all = countTypes(lazy.root);
  assert.ok(forRequest < used && used < all, `types loaded: ${forRequest} for a request, ${used} for a sidecar's config, ${all} in all`);
  assert.equal(all, countTypes(envoyRoot()));
});

void test('the descriptor carries no validation annotations and only the types PROTO_FILES need', () => {
  assert.doesNotMatch(ENVOY_DESCRIPTOR, /validate\.rules|udpa\.annotations|"deprecated"/);
  assert.throws(() => envoyRoot().lookupType('google.protobuf.FileDescriptorProto'));
  for (const url of Object.values(TYPE)) assert.ok(envoyRoot().lookupType(typeNameOfUrl(url)));
});
