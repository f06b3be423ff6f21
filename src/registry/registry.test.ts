import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource, Workload } from '../model/index.js';
import { createSnapshot, gatewayHostPort, registryFor, resolveHostname, hostMatches, intersectHosts, isExportedTo,
  protocolFromPortName, servicePortProtocol } from './index.js';

function res(kind: string, name: string, namespace: string, spec: unknown, extra: Partial<Resource['metadata']> = {}): Resource {
  return { apiVersion: kind === 'Service' ? 'v1' : 'networking.istio.io/v1', kind, metadata: { name, namespace, ...extra }, spec };
}
function wl(name: string, namespace: string, address: string, labels: Record<string, string>, ports: Record<string, number>): Workload {
  return { name, namespace, address, labels, serviceAccount: 'sa', ports };
}

void test('short names expand relative to the namespace; dotted names and wildcards are taken as given', () => {
  assert.equal(resolveHostname('reviews', 'default', 'svc.cluster.local'), 'reviews.default.svc.cluster.local');
  assert.equal(resolveHostname('testaaa.test-istio.svc.cluster.local', 'other', 'svc.cluster.local'), 'testaaa.test-istio.svc.cluster.local');
  assert.equal(resolveHostname('reviews.default', 'x', 'svc.cluster.local'), 'reviews.default');
  assert.equal(resolveHostname('*', 'x', 'svc.cluster.local'), '*');
});

void test('host wildcards match and intersect as Istio does', () => {
  assert.ok(hostMatches('*', 'a.b'));
  assert.ok(hostMatches('*.foo.com', 'a.foo.com'));
  assert.ok(!hostMatches('*.foo.com', 'foo.com'));
  assert.ok(hostMatches('*.foo.com', '*.a.foo.com'));
  assert.equal(intersectHosts('*', 'bookinfo.com'), 'bookinfo.com');
  assert.equal(intersectHosts('*.com', '*.foo.com'), '*.foo.com');
  assert.equal(intersectHosts('a.com', 'b.com'), undefined);
});

void test('exportTo: absent and * mean everyone, . the own namespace, names those namespaces, ~ nobody', () => {
  assert.ok(isExportedTo(undefined, 'a', 'b'));
  assert.ok(isExportedTo(['*'], 'a', 'b'));
  assert.ok(isExportedTo(['.'], 'a', 'a'));
  assert.ok(!isExportedTo(['.'], 'a', 'b'));
  assert.ok(isExportedTo(['.', 'b'], 'a', 'b'));
  assert.ok(!isExportedTo(['~'], 'a', 'a'));
});

void test('protocol comes from appProtocol, then the port name prefix', () => {
  assert.equal(servicePortProtocol({ name: 'tcp-db', appProtocol: 'HTTP' }), 'HTTP');
  assert.equal(protocolFromPortName('http-web'), 'HTTP');
  assert.equal(protocolFromPortName('grpc'), 'GRPC');
  assert.equal(protocolFromPortName('grpc-web'), 'GRPC-Web');
  assert.equal(protocolFromPortName('tcp'), 'TCP');
  assert.equal(protocolFromPortName('web'), 'UNSUPPORTED');
});

void test('gateway ports map 80->8080, 443->8443, other ports below 1024 get +8000', () => {
  const s = createSnapshot('1', [], []);
  assert.equal(gatewayHostPort(s.mesh, 80), 8080);
  assert.equal(gatewayHostPort(s.mesh, 443), 8443);
  assert.equal(gatewayHostPort(s.mesh, 81), 8081);
  assert.equal(gatewayHostPort(s.mesh, 15443), 15443);
});

void test('the snapshot is a deep-frozen copy, sorted, and rejects resources without a namespace', () => {
  const svc = res('Service', 'b', 'default', { ports: [{ port: 80 }] });
  const s = createSnapshot('1', [svc, res('Service', 'a', 'default', {})], []);
  assert.deepEqual(s.resources.map((r) => r.metadata.name), ['a', 'b']);
  assert.ok(Object.isFrozen(s.resources[1].spec));
  (svc.spec as { ports: unknown[] }).ports.push({ port: 81 });
  assert.equal((s.resources[1].spec as { ports: unknown[] }).ports.length, 1);
  assert.throws(() => createSnapshot('1', [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' }, spec: {} }], []), /Service\/x has no metadata.namespace/);
});

void test('Service endpoints: selector over workloads and WorkloadEntries of its namespace, targetPort resolved per endpoint', () => {
  const s = createSnapshot('1', [
    res('Service', 'web', 'ns1', { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'admin', port: 9000, targetPort: 'admin' }] }),
    res('WorkloadEntry', 'vm1', 'ns1', { address: '127.0.9.9', labels: { app: 'web' }, ports: { http: 18080 } }),
  ], [
    wl('web-1', 'ns1', '127.0.9.1', { app: 'web' }, { '8080': 8080, admin: 9901 }),
    wl('web-2', 'ns1', '127.0.9.2', { app: 'web' }, { http: 8080 }),
    wl('web-other-ns', 'ns2', '127.0.9.3', { app: 'web' }, { '8080': 8080 }),
    { ...wl('web-unready', 'ns1', '127.0.9.4', { app: 'web' }, { '8080': 8080 }), ready: false },
  ]);
  const reg = registryFor(s);
  const svc = reg.service('web.ns1.svc.cluster.local', 'ns1');
  assert.ok(svc);
  assert.deepEqual(reg.endpoints(svc, 80).map((e) => `${e.address}:${e.port}`).sort(), ['127.0.9.1:8080', '127.0.9.2:8080', '127.0.9.9:18080']);
  // named targetPort: only the workload that declares the name serves it
  assert.deepEqual(reg.endpoints(svc, 9000).map((e) => `${e.address}:${e.port}`), ['127.0.9.1:9901']);
  assert.equal(registryFor(s), reg, 'memoized per snapshot');
});

void test('subset filtering keeps the endpoints whose labels contain the subset labels', () => {
  const s = createSnapshot('1', [res('Service', 'reviews', 'default', { selector: { app: 'reviews' }, ports: [{ name: 'http', port: 9080 }] })], [
    wl('r1', 'default', '127.0.1.3', { app: 'reviews', version: 'v1' }, { http: 9080 }),
    wl('r2', 'default', '127.0.1.4', { app: 'reviews', version: 'v2' }, { http: 9080 }),
  ]);
  const reg = registryFor(s);
  const svc = reg.service('reviews.default.svc.cluster.local', 'default');
  assert.ok(svc);
  assert.deepEqual(reg.endpoints(svc, 9080, { version: 'v2' }).map((e) => e.address), ['127.0.1.4']);
  assert.deepEqual(reg.endpoints(svc, 9080, { version: 'v9' }), []);
});

void test('ServiceEntry: inline endpoints with per-endpoint ports, workloadSelector, exportTo', () => {
  const s = createSnapshot('1', [
    res('ServiceEntry', 'db', 'data', { hosts: ['db.internal'], resolution: 'STATIC', location: 'MESH_INTERNAL', exportTo: ['.'],
      ports: [{ number: 5432, name: 'tcp', protocol: 'TCP' }], endpoints: [{ address: '127.0.7.1' }, { address: '127.0.7.2', ports: { tcp: 6432 } }] }),
    res('ServiceEntry', 'api', 'data', { hosts: ['api.internal'], resolution: 'STATIC', workloadSelector: { labels: { app: 'api' } },
      ports: [{ number: 80, name: 'http', protocol: 'HTTP', targetPort: 8080 }] }),
  ], [wl('api-1', 'data', '127.0.7.5', { app: 'api' }, { '8080': 8080 }), wl('api-x', 'other', '127.0.7.6', { app: 'api' }, {})]);
  const reg = registryFor(s);
  const db = reg.service('db.internal', 'data');
  assert.ok(db);
  assert.equal(db.ports[0].protocol, 'TCP');
  assert.deepEqual(reg.endpoints(db, 5432).map((e) => `${e.address}:${e.port}`), ['127.0.7.1:5432', '127.0.7.2:6432']);
  assert.equal(reg.service('db.internal', 'default'), undefined, 'exportTo . hides it from other namespaces');
  assert.deepEqual(reg.servicesVisibleTo('default').map((x) => x.hostname), ['api.internal']);
  const api = reg.service('api.internal', 'default');
  assert.ok(api);
  assert.deepEqual(reg.endpoints(api, 80).map((e) => `${e.address}:${e.port}`), ['127.0.7.5:8080']);
});

void test('DestinationRule lookup: proxy namespace, then service namespace, then root namespace; exportTo honoured', () => {
  const dr = (name: string, ns: string, host: string, exportTo?: string[]): Resource =>
    res('DestinationRule', name, ns, { host, exportTo, subsets: [{ name, labels: {} }] });
  const s = createSnapshot('1', [
    res('Service', 'reviews', 'default', { selector: { app: 'reviews' }, ports: [{ port: 9080 }] }),
    dr('in-client-ns', 'client', 'reviews.default.svc.cluster.local'),
    dr('in-service-ns', 'default', 'reviews'),
    dr('private-in-service-ns', 'default', '*.default.svc.cluster.local', ['.']),
    dr('in-root', 'istio-system', '*.svc.cluster.local'),
  ], []);
  const reg = registryFor(s);
  const h = 'reviews.default.svc.cluster.local';
  assert.equal(reg.destinationRule(h, 'client', 'default')?.metadata.name, 'in-client-ns');
  assert.equal(reg.destinationRule(h, 'default', 'default')?.metadata.name, 'in-service-ns', 'exact host beats the wildcard');
  assert.equal(reg.destinationRule(h, 'elsewhere', 'default')?.metadata.name, 'in-service-ns');
  assert.equal(reg.destinationRule('ratings.default.svc.cluster.local', 'elsewhere', 'default')?.metadata.name, 'in-root',
    'the private wildcard in the service namespace is not visible; the root namespace rule applies');
  assert.equal(reg.destinationRule('ratings.default.svc.cluster.local', 'default', 'default')?.metadata.name, 'private-in-service-ns');
});

void test('VirtualServices: gateways resolved relative to the VS namespace, none means mesh, exportTo honoured', () => {
  const s = createSnapshot('1', [
    res('VirtualService', 'mesh-only', 'a', { hosts: ['x'] }),
    res('VirtualService', 'gw-short', 'a', { hosts: ['*'], gateways: ['gw'] }),
    res('VirtualService', 'both', 'b', { hosts: ['y'], gateways: ['a/gw', 'mesh'], exportTo: ['.'] }),
  ], []);
  const reg = registryFor(s);
  assert.deepEqual(reg.virtualServices('a', 'mesh').map((v) => v.metadata.name), ['mesh-only']);
  assert.deepEqual(reg.virtualServices('b', 'mesh').map((v) => v.metadata.name), ['mesh-only', 'both']);
  assert.deepEqual(reg.virtualServices('istio-system', 'a/gw').map((v) => v.metadata.name), ['gw-short']);
  assert.deepEqual(reg.vsHosts(s.resources.find((r) => r.metadata.name === 'mesh-only') as Resource<{ hosts: string[] }>), ['x.a.svc.cluster.local']);
});
