// Locality load balancing end to end: DestinationRule YAML -> translate() (CLA weights/priorities,
// locality_weighted_lb_config) -> the sidecar's load balancer -> real backends on loopback addresses.
// distribute (80/20 from the client's zone), failover with outlier detection, retryRemoteLocalities.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Workload } from '../../src/model/index.js';
import { createSnapshot } from '../../src/registry/index.js';
import { translate } from '../../src/translate/index.js';
import { parseResources } from '../translate/harness.js';
import { namedServer, tallyCalls, translatedSidecar } from './translated.js';

const SERVICE = `
apiVersion: v1
kind: Service
metadata: { name: web }
spec: { selector: { app: web }, ports: [{ name: http, port: 80 }] }
`;

function wl(name: string, address: string, port: number, locality: string, app = 'web'): Workload {
  return { name, namespace: 'default', address, labels: { app }, serviceAccount: app, ports: port ? { http: port } : {}, locality };
}

async function backends(base: string): Promise<{ ws: Workload[]; close(): Promise<void> }> {
  const a = await namedServer('zone-a', `${base}.1`);
  const b = await namedServer('zone-b', `${base}.2`);
  const c = await namedServer('eu-west', `${base}.3`);
  return {
    ws: [wl('a', `${base}.1`, a.port, 'us-east/zone-a'), wl('b', `${base}.2`, b.port, 'us-east/zone-b'), wl('c', `${base}.3`, c.port, 'eu-west/zone-1'),
      wl('client', `${base}.9`, 0, 'us-east/zone-a', 'client')],
    close: async () => { await Promise.all([a.close(), b.close(), c.close()]); },
  };
}

void test('distribute: the CLA carries Istio weights for the proxy locality; wildcards share, unnamed localities are emptied', () => {
  const yaml = `${SERVICE}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: web }
spec:
  host: web
  trafficPolicy:
    loadBalancer:
      localityLbSetting:
        distribute:
        - { from: "us-east/zone-a/*", to: { "us-east/*": 60, "ap-south/*": 40 } }
        - { from: "*", to: { "eu-west/zone-1": 100 } }
`;
  const ws = [wl('a', '127.0.9.1', 80, 'us-east/zone-a'), wl('b', '127.0.9.2', 80, 'us-east/zone-b'), wl('c', '127.0.9.3', 80, 'eu-west/zone-1'),
    wl('client', '127.0.9.9', 0, 'us-east/zone-a', 'client'), wl('far', '127.0.9.8', 0, 'ap-south/zone-9', 'client')];
  const snap = createSnapshot('1', parseResources(yaml, 't'), ws);
  const proxy = (name: string) => {
    const w = ws.find((x) => x.name === name)!;
    return { id: name, kind: 'sidecar' as const, name, namespace: 'default', labels: w.labels, address: w.address, serviceAccount: 'client', workload: w, locality: w.locality };
  };
  const name = 'outbound|80||web.default.svc.cluster.local';
  const view = (r: ReturnType<typeof translate>) => (r.endpoints.get(name) as { endpoints: { locality: { region: string; zone: string }; load_balancing_weight: { value: number }; lb_endpoints: unknown[] }[] })
    .endpoints.map((g) => `${g.locality.region}/${g.locality.zone}=${g.lb_endpoints.length ? g.load_balancing_weight.value : 'empty'}`);
  const near = translate(snap, proxy('client'));
  // "us-east/*" matches two localities of weight 1 each: 60 shared as ceil(60/2).
  assert.deepEqual(view(near), ['eu-west/zone-1=empty', 'us-east/zone-a=30', 'us-east/zone-b=30']);
  assert.deepEqual((near.clusters.get(name) as { common_lb_config?: object }).common_lb_config, { locality_weighted_lb_config: {} });
  assert.deepEqual(view(translate(snap, proxy('far'))), ['eu-west/zone-1=100', 'us-east/zone-a=empty', 'us-east/zone-b=empty']);
});

void test('distribute 80/20 from the client zone: the sidecar splits 80:20 and sends nothing to the unnamed region', { timeout: 20_000 }, async () => {
  const be = await backends('127.0.91');
  const sc = await translatedSidecar(`${SERVICE}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: web }
spec:
  host: web
  trafficPolicy:
    loadBalancer:
      simple: ROUND_ROBIN
      localityLbSetting:
        enabled: true
        distribute:
        - from: us-east/zone-a/*
          to:
            "us-east/zone-a/*": 80
            "us-east/zone-b/*": 20
`, be.ws, 'client');
  try {
    const t = await tallyCalls(100, () => sc.get('http://web/'));
    assert.equal(t.get('eu-west'), undefined, JSON.stringify([...t]));
    assert.ok(Math.abs((t.get('zone-a') ?? 0) - 80) <= 3, JSON.stringify([...t]));
    assert.ok(Math.abs((t.get('zone-b') ?? 0) - 20) <= 3, JSON.stringify([...t]));
  } finally {
    await sc.close();
    await be.close();
  }
});

const FAILOVER = (od: string, retries: string) => `${SERVICE}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: web }
spec:
  host: web
  trafficPolicy:
    loadBalancer:
      localityLbSetting:
        failover: [{ from: us-east, to: eu-west }]
    outlierDetection: { ${od} }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web }
spec:
  hosts: [web]
  http:
  - route: [{ destination: { host: web } }]
    retries: ${retries}
`;

void test('failover with outlier detection: the dead local endpoint is ejected and traffic moves to the next zone', { timeout: 20_000 }, async () => {
  const be = await backends('127.0.92');
  // zone-a's workload points at a closed port: connection refused.
  be.ws[0] = { ...be.ws[0], ports: { http: 1 } };
  const sc = await translatedSidecar(FAILOVER('consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100', '{ attempts: 0 }'), be.ws, 'client');
  try {
    const deadline = Date.now() + 10_000;
    let r = await sc.get('http://web/');
    while (r.status !== 200 && Date.now() < deadline) r = await sc.get('http://web/');
    const t = await tallyCalls(20, () => sc.get('http://web/'));
    assert.deepEqual([...t], [['zone-b', 20]], 'same region, other zone first; eu-west only after it');
  } finally {
    await sc.close();
    await be.close();
  }
});

void test('retryRemoteLocalities: a retry after the local priority failed goes to the next priority (previous_priorities)', { timeout: 20_000 }, async () => {
  const be = await backends('127.0.93');
  be.ws[0] = { ...be.ws[0], ports: { http: 1 } };
  // Outlier detection present (failover priorities) but never ejecting here.
  const od = 'consecutive5xxErrors: 1000, consecutiveGatewayErrors: 1000, consecutiveLocalOriginFailures: 1000';
  const remote = await translatedSidecar(FAILOVER(od, '{ attempts: 3, retryOn: connect-failure, retryRemoteLocalities: true }'), be.ws, 'client');
  try {
    const t = await tallyCalls(10, () => remote.get('http://web/'));
    assert.deepEqual([...t], [['zone-b', 10]]);
  } finally {
    await remote.close();
  }
  const local = await translatedSidecar(FAILOVER(od, '{ attempts: 3, retryOn: connect-failure }'), be.ws, 'client');
  try {
    const r = await local.get('http://web/');
    assert.equal(r.status, 503, 'without retryRemoteLocalities every retry stays in the local priority');
  } finally {
    await local.close();
    await be.close();
  }
});

void test('failoverPriority: priorities by the leading labels shared with the proxy (locality labels derived, label=value fixed), then failover', () => {
  const ws = [
    { ...wl('a1', '127.0.9.1', 80, 'us-east/zone-a'), labels: { app: 'web', version: 'v1' } },
    { ...wl('a2', '127.0.9.2', 80, 'us-east/zone-a'), labels: { app: 'web', version: 'v2' } },
    wl('b', '127.0.9.3', 80, 'us-east/zone-b'), wl('c', '127.0.9.4', 80, 'eu-west/zone-1'),
    wl('client', '127.0.9.9', 0, 'us-east/zone-a', 'client'),
  ];
  const dr = (lls: string) => `${SERVICE}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: web }
spec:
  host: web
  trafficPolicy:
    outlierDetection: { consecutive5xxErrors: 3 }
    loadBalancer: { localityLbSetting: ${lls} }
`;
  const prios = (yaml: string) => {
    const w = ws[4];
    const r = translate(createSnapshot('1', parseResources(yaml, 't'), ws), { id: 'c', kind: 'sidecar', name: 'client', namespace: 'default', labels: w.labels, address: w.address, serviceAccount: 'client', workload: w, locality: w.locality });
    const cla = r.endpoints.get('outbound|80||web.default.svc.cluster.local') as { endpoints: { priority?: number; lb_endpoints: { endpoint: { address: { socket_address: { address: string } } } }[] }[] };
    const out: Record<string, number> = {};
    for (const g of cla.endpoints) for (const e of g.lb_endpoints) out[e.endpoint.address.socket_address.address.slice(-1)] = g.priority ?? 0;
    return out;
  };
  assert.deepEqual(prios(dr('{ failoverPriority: [topology.kubernetes.io/region, topology.kubernetes.io/zone] }')), { 1: 0, 2: 0, 3: 1, 4: 2 });
  // version=v2 first: only a2 matches it; a mismatch on the first label puts the rest together at the lowest priority.
  assert.deepEqual(prios(dr('{ failoverPriority: [version=v2, topology.kubernetes.io/region] }')), { 2: 0, 1: 1, 3: 1, 4: 1 });
  // With failover too: within each label priority, locality ranking splits further.
  assert.deepEqual(prios(dr('{ failoverPriority: [topology.kubernetes.io/region], failover: [{ from: us-east, to: eu-west }] }')), { 1: 0, 2: 0, 3: 1, 4: 2 });
});

void test('ingestion refuses what Istio refuses: distribute with failover, weights not summing to 100, zones in failover', async () => {
  const { validateResource } = await import('../../src/config/index.js');
  const dr = (lls: unknown) => ({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'x', namespace: 'default' }, spec: { host: 'web', trafficPolicy: { loadBalancer: { localityLbSetting: lls } } } });
  assert.deepEqual(validateResource(dr({ distribute: [{ from: 'us-east/*', to: { 'us-east/zone-a/*': 80, 'us-east/zone-b/*': 20 } }] })), []);
  const msgs = validateResource(dr({ distribute: [{ from: 'us/*/x', to: { a: 90 } }], failover: [{ from: 'a', to: 'a/b' }] })).map((d) => d.message);
  for (const m of ["can not simultaneously specify 'distribute' and 'failover'", 'invalid locality "us/*/x"', 'total locality weight 90 != 100', 'failover only specifies regions']) {
    assert.ok(msgs.some((x) => x.includes(m)), `${m} in ${JSON.stringify(msgs)}`);
  }
});

void test('a WorkloadEntry locality places its endpoint: distribute weights apply to it too', () => {
  const yaml = `${SERVICE}---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: vm-1 }
spec: { address: 127.0.9.7, labels: { app: web }, locality: us-east/zone-b, ports: { http: 8080 } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: web }
spec:
  host: web
  trafficPolicy:
    loadBalancer: { localityLbSetting: { distribute: [{ from: "us-east/zone-a/*", to: { "us-east/zone-a/*": 70, "us-east/zone-b/*": 30 } }] } }
`;
  const ws = [wl('a', '127.0.9.1', 80, 'us-east/zone-a'), wl('client', '127.0.9.9', 0, 'us-east/zone-a', 'client')];
  const w = ws[1];
  const r = translate(createSnapshot('1', parseResources(yaml, 't'), ws), { id: 'c', kind: 'sidecar', name: 'client', namespace: 'default', labels: w.labels, address: w.address, serviceAccount: 'client', workload: w, locality: w.locality });
  const cla = r.endpoints.get('outbound|80||web.default.svc.cluster.local') as { endpoints: { locality: { zone: string }; load_balancing_weight: { value: number }; lb_endpoints: { endpoint: { address: { socket_address: { address: string; port_value: number } } } }[] }[] };
  const zb = cla.endpoints.find((g) => g.locality.zone === 'zone-b');
  assert.deepEqual(zb?.lb_endpoints.map((e) => e.endpoint.address.socket_address), [{ address: '127.0.9.7', port_value: 8080 }]);
  assert.equal(zb?.load_balancing_weight.value, 30);
});
