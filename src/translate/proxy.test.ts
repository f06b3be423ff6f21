import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSnapshot } from '../registry/index.js';
import { parseNodeId, withWorkload } from './proxy.js';

void test('sidecar and router node ids parse into kind, address, name and namespace', () => {
  const p = parseNodeId('sidecar~127.0.1.1~productpage-v1.default~default.svc.cluster.local');
  assert.deepEqual({ kind: p.kind, address: p.address, name: p.name, namespace: p.namespace }, { kind: 'sidecar', address: '127.0.1.1', name: 'productpage-v1', namespace: 'default' });
  const g = parseNodeId('router~127.0.0.10~istio-ingressgateway-5d8f.istio-system~istio-system.svc.cluster.local', { LABELS: { istio: 'ingressgateway' } });
  assert.equal(g.kind, 'gateway');
  assert.equal(g.namespace, 'istio-system');
  assert.deepEqual(g.labels, { istio: 'ingressgateway' });
});

void test('gRPC clients are recognised by GENERATOR metadata and take the namespace from NAMESPACE', () => {
  const p = parseNodeId('client-1', { GENERATOR: 'grpc', NAMESPACE: 'apps', INSTANCE_IPS: '127.0.6.9' });
  assert.deepEqual({ kind: p.kind, namespace: p.namespace, address: p.address }, { kind: 'grpc', namespace: 'apps', address: '127.0.6.9' });
});

void test('a node id without a namespace is refused with a message naming it', () => {
  assert.throws(() => parseNodeId('just-a-name'), /just-a-name.*no namespace/);
  assert.throws(() => parseNodeId('waypoint~1.2.3.4~a.b~b.svc.cluster.local'), /unknown proxy type "waypoint"/);
});

void test('withWorkload attaches the registered workload by address and takes its labels', () => {
  const s = createSnapshot('1', [], [{ name: 'r1', namespace: 'default', address: '127.0.1.3', labels: { app: 'reviews' }, serviceAccount: 'bookinfo-reviews', ports: {} }]);
  const p = withWorkload(parseNodeId('sidecar~127.0.1.3~r1-pod.default~default.svc.cluster.local'), s);
  assert.equal(p.workload?.name, 'r1');
  assert.deepEqual(p.labels, { app: 'reviews' });
  assert.equal(p.serviceAccount, 'bookinfo-reviews');
});
