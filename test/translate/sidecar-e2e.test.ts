// End to end through the real sidecar: translate() output for productpage's sidecar is applied to
// a src/proxy Proxy, and HTTP requests sent to its virtualOutbound (as an HTTP proxy) and its
// inbound listener reach the backends Istio semantics say they should.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Workload } from '../../src/model/index.js';
import { Proxy } from '../../src/proxy/index.js';
import { createSnapshot } from '../../src/registry/index.js';
import { translate, type ProxyInfo } from '../../src/translate/index.js';
import { TYPE } from '../../src/xds/protos.js';
import { parseResources } from './harness.js';
import { echoServer, request, close } from '../proxy/helpers.js';

const ADDR = '127.77.3.1'; // this test's own workload address: 15001 on it is ours alone

void test('a sidecar configured by translate() routes by header, by the default route, and inbound', { timeout: 20_000 }, async () => {
  const app = await echoServer('productpage-app');
  const v1 = await echoServer('reviews-v1', '127.77.3.2');
  const v2 = await echoServer('reviews-v2', '127.77.3.3');
  const ratings = await echoServer('ratings', '127.77.3.4');
  const workloads: Workload[] = [
    { name: 'productpage-v1', namespace: 'default', address: ADDR, labels: { app: 'productpage', version: 'v1' }, serviceAccount: 'p', ports: { http: 9080 }, appPort: app.port },
    { name: 'reviews-v1', namespace: 'default', address: '127.77.3.2', labels: { app: 'reviews', version: 'v1' }, serviceAccount: 'r', ports: { http: v1.port } },
    { name: 'reviews-v2', namespace: 'default', address: '127.77.3.3', labels: { app: 'reviews', version: 'v2' }, serviceAccount: 'r', ports: { http: v2.port } },
    { name: 'ratings-v1', namespace: 'default', address: '127.77.3.4', labels: { app: 'ratings', version: 'v1' }, serviceAccount: 'r', ports: { http: ratings.port } },
  ];
  const snapshot = createSnapshot('1', parseResources(`
apiVersion: v1
kind: Service
metadata: { name: productpage }
spec: { selector: { app: productpage }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: reviews }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: ratings }
spec: { selector: { app: ratings }, ports: [{ name: http, port: 9080 }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec: { host: reviews, subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - match: [{ headers: { end-user: { exact: jason } } }]
    route: [{ destination: { host: reviews, subset: v2 } }]
    headers: { request: { set: { x-routed: jason } } }
  - route: [{ destination: { host: reviews, subset: v1 } }]
`, 'e2e'), workloads);
  const info: ProxyInfo = { id: `sidecar~${ADDR}~productpage-v1.default~default.svc.cluster.local`, kind: 'sidecar', name: 'productpage-v1',
    namespace: 'default', labels: {}, address: ADDR, serviceAccount: 'default' };
  const res = translate(snapshot, info);
  const proxy = new Proxy({ nodeId: info.id, address: ADDR, adminPort: 0 });
  try {
    for (const [type, m] of [[TYPE.cluster, res.clusters], [TYPE.endpoint, res.endpoints], [TYPE.listener, res.listeners], [TYPE.route, res.routes]] as const) {
      const r = proxy.update(type, m);
      assert.ok(r.ok, `${type} rejected: ${r.ok ? '' : r.error}`);
    }
    await proxy.start();
    await proxy.settled();
    const via = (host: string, headers: Record<string, string> = {}) =>
      request({ host: ADDR, port: 15001, path: `http://${host}/`, headers: { host, ...headers } });
    const jason = await via('reviews:9080', { 'end-user': 'jason' });
    assert.equal(jason.headers['x-upstream'], 'reviews-v2');
    assert.equal(jason.json<{ headers: Record<string, string> }>().headers['x-routed'], 'jason');
    assert.equal((await via('reviews:9080')).headers['x-upstream'], 'reviews-v1');
    assert.equal((await via('ratings.default.svc.cluster.local:9080')).headers['x-upstream'], 'ratings');
    const inbound = await request({ host: ADDR, port: 9080, path: '/productpage', headers: { host: 'productpage:9080' } });
    assert.equal(inbound.headers['x-upstream'], 'productpage-app');
  } finally {
    await proxy.close();
    for (const s of [app, v1, v2, ratings]) await close(s.server);
  }
});
