// DestinationRule warmup and connectionPool.tcp.maxConnections end to end: YAML -> translate()
// (slow_start_config, circuit_breakers) -> the sidecar -> real backends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Workload } from '../../src/model/index.js';
import { upstreamClock } from '../../src/proxy/upstream/cluster.js';
import { namedServer, tallyCalls, translatedSidecar } from './translated.js';

const SERVICE = `
apiVersion: v1
kind: Service
metadata: { name: web }
spec: { selector: { app: web }, ports: [{ name: http, port: 80 }] }
`;

function wl(name: string, address: string, port: number, app = 'web'): Workload {
  return { name, namespace: 'default', address, labels: { app }, serviceAccount: app, ports: port ? { http: port } : {} };
}

for (const simple of ['ROUND_ROBIN', 'LEAST_REQUEST']) {
  void test(`warmup (${simple}): an endpoint added later gets a small share while the old ones keep theirs`, { timeout: 20_000 }, async () => {
    const base = simple === 'ROUND_ROBIN' ? '127.0.94' : '127.0.95';
    const servers = await Promise.all(['w1', 'w2', 'w3'].map((n, i) => namedServer(n, `${base}.${i + 1}`)));
    const ws = servers.map((s, i) => wl(`w${i + 1}`, `${base}.${i + 1}`, s.port));
    const client = wl('client', `${base}.9`, 0, 'client');
    const sc = await translatedSidecar(`${SERVICE}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: web }
spec:
  host: web
  trafficPolicy:
    loadBalancer: { simple: ${simple}, warmup: { duration: 600s } }
`, [ws[0], ws[1], client], 'client');
    try {
      const before = await tallyCalls(40, () => sc.get('http://web/'));
      assert.deepEqual([...before.keys()].sort(), ['w1', 'w2'], 'endpoints present from the start (all in slow start alike) share evenly');
      // Ten minutes later (injected clock: w1 and w2 are past their window), w3 joins.
      upstreamClock.now = () => performance.now() + 700_000;
      sc.pushEndpoints([...ws, client]);
      const after = await tallyCalls(105, () => sc.get('http://web/'));
      const w3 = after.get('w3') ?? 0;
      // Window 600 s: w3 weighs ~10% of the others (min_weight_percent), i.e. ~5 of 105, not 35.
      assert.ok(w3 >= 1 && w3 <= 15, JSON.stringify([...after]));
      assert.ok((after.get('w1') ?? 0) > 30 && (after.get('w2') ?? 0) > 30, JSON.stringify([...after]));
    } finally {
      upstreamClock.now = () => performance.now();
      await sc.close();
      await Promise.all(servers.map((s) => s.close()));
    }
  });
}

void test('connectionPool.tcp.maxConnections bounds the whole cluster\'s connections (not per host); the excess waits and upstream_cx_overflow counts it', { timeout: 20_000 }, async () => {
  const servers = await Promise.all(['m1', 'm2', 'm3'].map((n, i) => namedServer(n, `127.0.96.${i + 1}`, 150)));
  const ws = servers.map((s, i) => wl(`m${i + 1}`, `127.0.96.${i + 1}`, s.port));
  const sc = await translatedSidecar(`${SERVICE}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: web }
spec:
  host: web
  trafficPolicy:
    loadBalancer: { simple: ROUND_ROBIN }
    connectionPool: { tcp: { maxConnections: 3 } }
`, [...ws, wl('client', '127.0.96.9', 0, 'client')], 'client');
  try {
    const rs = await Promise.all(Array.from({ length: 24 }, () => sc.get('http://web/')));
    assert.ok(rs.every((r) => r.status === 200), rs.map((r) => r.status).join(','));
    const opened = servers.reduce((a, s) => a + s.connections(), 0);
    // Per host, 3 each would allow 9; the cluster-wide breaker allows 3 (a host with none may open one).
    assert.ok(opened <= 3, `upstream connections: ${opened}`);
    const st = sc.proxy.stats();
    assert.ok((st['cluster.outbound|80||web.default.svc.cluster.local.upstream_cx_overflow'] ?? 0) > 0, 'upstream_cx_overflow');
  } finally {
    await sc.close();
    await Promise.all(servers.map((s) => s.close()));
  }
});
