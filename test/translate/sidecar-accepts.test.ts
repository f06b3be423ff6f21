// The sidecar (src/proxy) must accept everything translation produces for sidecars and gateways:
// each golden case's clusters, endpoints, route configurations and listeners are compiled by the
// sidecar's own managers, which reject what they cannot serve (as a NACK would).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatsStore } from '../../src/proxy/stats.js';
import { ClusterManager } from '../../src/proxy/upstream/cluster.js';
import { RouteTable } from '../../src/proxy/hcm/config.js';
import { compileListener } from '../../src/proxy/listener/compile.js';
import { caseNames, loadCase } from './harness.js';
import { caseResources } from './resources.js';

for (const name of caseNames()) {
  const tc = loadCase(name);
  if (tc.proxy.kind === 'grpc') continue;
  void test(`the sidecar accepts ${name}`, () => {
    const res = caseResources(tc);
    const stats = new StatsStore();
    const clusters = new ClusterManager(stats);
    assert.equal(clusters.updateEndpoints(res.endpoints), undefined);
    assert.equal(clusters.updateClusters(res.clusters), undefined);
    const routes = new RouteTable(clusters);
    assert.equal(routes.update(res.routes), undefined);
    for (const [n, l] of res.listeners) compileListener(n, l as Record<string, unknown>, { routes, clusters, stats }, `Listener ${n}`);
  });
}
