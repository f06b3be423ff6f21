// Rebuilds that reuse work (SnapshotInputCache, inheritClusterMemos, translateShared) must give
// exactly what a translation from scratch gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource, Workload } from '../../src/model/index.js';
import { createSnapshot, inheritClusterMemos, SnapshotInputCache } from '../../src/registry/index.js';
import { translate, translateShared, type ProxyInfo } from '../../src/translate/index.js';

function mesh(weight: number, subsets = ['v1', 'v2']): Resource[] {
  const meta = (name: string, rv: string) => ({ name, namespace: 'default', uid: `uid-${name}`, resourceVersion: rv });
  return [
    { apiVersion: 'v1', kind: 'Service', metadata: meta('reviews', '1'), spec: { selector: { app: 'reviews' }, ports: [{ name: 'http', port: 9080 }] } },
    { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: meta('reviews', subsets.join()),
      spec: { host: 'reviews', subsets: subsets.map((v) => ({ name: v, labels: { version: v } })) } },
    { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: meta('reviews', String(weight)),
      spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' }, weight }, { destination: { host: 'reviews', subset: 'v2' }, weight: 100 - weight }] }] } },
  ];
}

const workloads: Workload[] = ['v1', 'v2', 'v3'].map((v, i) => ({ name: `reviews-${v}`, namespace: 'default', address: `127.0.0.${i + 2}`,
  labels: { app: 'reviews', version: v }, serviceAccount: 'reviews', ports: { http: 9080 } }));
const proxy: ProxyInfo = { id: 'sidecar~127.0.0.2~reviews-v1.default~default.svc.cluster.local', kind: 'sidecar', name: 'reviews-v1',
  namespace: 'default', labels: workloads[0].labels, address: '127.0.0.2', serviceAccount: 'reviews', workload: workloads[0] };

const plain = (r: ReturnType<typeof translate>) => JSON.parse(JSON.stringify({
  listeners: [...r.listeners], routes: [...r.routes], clusters: [...r.clusters], endpoints: [...r.endpoints] })) as unknown;

void test('a VirtualService-only change reuses the clusters and endpoints, with the same result as from scratch', () => {
  const inputs = new SnapshotInputCache();
  const a = createSnapshot('a', inputs.resourcesOf(mesh(90)), inputs.workloadsOf(workloads));
  const ra = translateShared(a, proxy);
  const b = createSnapshot('b', inputs.resourcesOf(mesh(70)), inputs.workloadsOf(workloads));
  assert.equal(b.byKind.get('Service')?.[0], a.byKind.get('Service')?.[0], 'unchanged resources keep their object');
  assert.equal(inheritClusterMemos(a, b), true);
  const rb = translateShared(b, proxy);
  assert.equal(rb.clusters, ra.clusters, 'the same cluster Map');
  assert.equal(rb.endpoints, ra.endpoints);
  assert.notDeepEqual(plain(rb), plain(ra), 'the routes did change');
  assert.deepEqual(plain(rb), plain(translate(createSnapshot('b2', mesh(70), workloads), proxy)));
});

void test('a DestinationRule or workload change rebuilds the clusters', () => {
  const inputs = new SnapshotInputCache();
  const a = createSnapshot('a', inputs.resourcesOf(mesh(90)), inputs.workloadsOf(workloads));
  translateShared(a, proxy);
  const b = createSnapshot('b', inputs.resourcesOf(mesh(90, ['v1', 'v2', 'v3'])), inputs.workloadsOf(workloads));
  assert.equal(inheritClusterMemos(a, b), false);
  const rb = translateShared(b, proxy);
  assert.ok(rb.clusters.has('outbound|9080|v3|reviews.default.svc.cluster.local'));
  assert.deepEqual(plain(rb), plain(translate(createSnapshot('b2', mesh(90, ['v1', 'v2', 'v3']), workloads), proxy)));
  const c = createSnapshot('c', inputs.resourcesOf(mesh(90, ['v1', 'v2', 'v3'])), inputs.workloadsOf(workloads.slice(0, 2)));
  assert.equal(inheritClusterMemos(b, c), false);
  assert.equal(translateShared(c, proxy).endpoints.get('outbound|9080|v3|reviews.default.svc.cluster.local')?.constructor, Object);
});

void test('translate() hands out Maps of its own; translateShared() shares them between alike proxies', () => {
  const s = createSnapshot('s', mesh(90), workloads);
  const other: ProxyInfo = { ...proxy, id: 'sidecar~127.0.0.9~x.default~default.svc.cluster.local', name: 'x', address: '127.0.0.9', workload: undefined, labels: {} };
  assert.equal(translateShared(s, proxy).endpoints, translateShared(s, other).endpoints);
  const mine = translate(s, proxy);
  mine.clusters.clear();
  assert.ok(translateShared(s, proxy).clusters.size > 0);
});

function twoServices(reviewsWeight: number, ratingsRoute: Record<string, unknown>): Resource[] {
  const meta = (name: string, rv: string) => ({ name, namespace: 'default', uid: `uid-r-${name}`, resourceVersion: rv });
  return [...mesh(reviewsWeight),
    { apiVersion: 'v1', kind: 'Service', metadata: meta('ratings', '1'), spec: { selector: { app: 'ratings' }, ports: [{ name: 'http', port: 9080 }] } },
    { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: meta('ratings', JSON.stringify(ratingsRoute)), spec: { hosts: ['ratings'], http: [ratingsRoute] } }];
}

const vhostOf = (r: ReturnType<typeof translate>, name: string) =>
  ((r.routes.get('9080') as { virtual_hosts: { name: string }[] }).virtual_hosts).find((v) => v.name === name);

void test('a VirtualService-only change rebuilds only its virtual host; the others and the inbound listeners are the same objects', () => {
  const inputs = new SnapshotInputCache();
  const ratings = { route: [{ destination: { host: 'ratings' } }] };
  const a = createSnapshot('a', inputs.resourcesOf(twoServices(90, ratings)), inputs.workloadsOf(workloads));
  const ra = translateShared(a, proxy);
  const b = createSnapshot('b', inputs.resourcesOf(twoServices(70, ratings)), inputs.workloadsOf(workloads));
  assert.equal(inheritClusterMemos(a, b), true);
  const rb = translateShared(b, proxy);
  assert.equal(vhostOf(rb, 'ratings.default.svc.cluster.local:9080'), vhostOf(ra, 'ratings.default.svc.cluster.local:9080'));
  assert.notEqual(vhostOf(rb, 'reviews.default.svc.cluster.local:9080'), vhostOf(ra, 'reviews.default.svc.cluster.local:9080'));
  assert.equal(rb.listeners.get('127.0.0.2_9080'), ra.listeners.get('127.0.0.2_9080'));
  assert.deepEqual(plain(rb), plain(translate(createSnapshot('b2', twoServices(70, ratings), workloads), proxy)));
});

void test('with a delegating or sourceLabels VirtualService, routes are not carried over, and the result is as from scratch', () => {
  const inputs = new SnapshotInputCache();
  const bySource = { match: [{ sourceLabels: { version: 'v2' } }], route: [{ destination: { host: 'ratings' } }] };
  const a = createSnapshot('a', inputs.resourcesOf(twoServices(90, bySource)), inputs.workloadsOf(workloads));
  const ra = translateShared(a, proxy);
  const b = createSnapshot('b', inputs.resourcesOf(twoServices(70, bySource)), inputs.workloadsOf(workloads));
  assert.equal(inheritClusterMemos(a, b), true);
  const rb = translateShared(b, proxy);
  assert.notEqual(rb.routes, ra.routes);
  assert.deepEqual(plain(rb), plain(translate(createSnapshot('b2', twoServices(70, bySource), workloads), proxy)));
  const other: ProxyInfo = { ...proxy, id: 'sidecar~127.0.0.3~reviews-v2.default~default.svc.cluster.local', name: 'reviews-v2',
    labels: workloads[1].labels, address: '127.0.0.3', workload: workloads[1] };
  assert.deepEqual(plain(translateShared(b, other)), plain(translate(createSnapshot('b3', twoServices(70, bySource), workloads), other)));
});
