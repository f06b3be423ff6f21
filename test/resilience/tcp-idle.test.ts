// DestinationRule connectionPool.tcp.idleTimeout for a TCP service: translated into the outbound
// tcp_proxy's idle_timeout (Envoy's 1 h when unset, Istio's default), and the sidecar closes both the
// client's and the upstream connection once no byte has crossed for that long, while a connection
// with traffic stays open. Real sockets: a sidecar configured from translate(), a TCP echo backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { Workload } from '../../src/model/index.js';
import { Proxy } from '../../src/proxy/index.js';
import { createSnapshot } from '../../src/registry/index.js';
import { translate, type ProxyInfo } from '../../src/translate/index.js';
import { TYPE } from '../../src/xds/protos.js';
import { parseResources } from '../translate/harness.js';
import { pollUntil } from '../e2e/helpers.js';

const SERVICES = `
apiVersion: v1
kind: Service
metadata: { name: echo }
spec: { selector: { app: echo }, ports: [{ name: tcp, port: 9000, protocol: TCP }] }
`;
const DR = (host: string, idle: string) => `
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${host} }
spec: { host: ${host}, trafficPolicy: { connectionPool: { tcp: { idleTimeout: ${idle} } } } }
`;
/** Two weighted subsets, each with its own idleTimeout (absent: unset). */
const SPLIT = (v1: string, v2?: string) => `
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: echo }
spec:
  hosts: [echo]
  tcp:
  - route:
    - { destination: { host: echo, subset: v1 }, weight: 50 }
    - { destination: { host: echo, subset: v2 }, weight: 50 }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: echo }
spec:
  host: echo
  subsets:
  - { name: v1, labels: { version: v1 }, trafficPolicy: { connectionPool: { tcp: { idleTimeout: ${v1} } } } }
  - { name: v2, labels: { version: v2 }${v2 ? `, trafficPolicy: { connectionPool: { tcp: { idleTimeout: ${v2} } } }` : ''} }
`;

const wl = (name: string, address: string, port: number, app: string): Workload =>
  ({ name, namespace: 'default', address, labels: { app }, serviceAccount: app, ports: port ? { tcp: port } : {} });
const info = (w: Workload): ProxyInfo => ({ id: `sidecar~${w.address}~${w.name}.default~default.svc.cluster.local`, kind: 'sidecar', name: w.name,
  namespace: 'default', labels: w.labels, address: w.address, serviceAccount: w.serviceAccount, workload: w });

function tcpProxyOf(yaml: string): Record<string, unknown> {
  const client = wl('client', '127.0.9.9', 0, 'client');
  const res = translate(createSnapshot('1', parseResources(SERVICES + yaml, 't'), [wl('e', '127.0.9.1', 9000, 'echo'), client]), info(client));
  const l = res.listeners.get('0.0.0.0_9000') as { filter_chains: { filters: { typed_config: Record<string, unknown> }[] }[] };
  return l.filter_chains[0].filters[0].typed_config;
}

void test('translation: idleTimeout -> tcp_proxy idle_timeout; unset leaves Envoy\'s 1 h default; 0s disables; weighted routes take the longest', () => {
  assert.equal(tcpProxyOf('').idle_timeout, undefined);
  assert.deepEqual(tcpProxyOf(DR('echo', '300ms')).idle_timeout, { seconds: '0', nanos: 300_000_000 });
  assert.deepEqual(tcpProxyOf(DR('echo', '0s')).idle_timeout, { seconds: '0', nanos: 0 });
  const split = tcpProxyOf(SPLIT('30s', '2m'));
  assert.equal((split.weighted_clusters as { clusters: unknown[] }).clusters.length, 2);
  assert.deepEqual(split.idle_timeout, { seconds: '120', nanos: 0 });
  assert.deepEqual(tcpProxyOf(SPLIT('30s')).idle_timeout, { seconds: '3600', nanos: 0 }, 'an unset destination counts as 1 h');
  assert.deepEqual(tcpProxyOf(SPLIT('30s', '0s')).idle_timeout, { seconds: '0', nanos: 0 }, '0s (never) is the longest');
});

void test('the sidecar closes an idle TCP connection on both sides after idleTimeout; traffic keeps it open', { timeout: 20_000 }, async () => {
  const base = '127.0.95';
  const upstreamClosed: number[] = [];
  const server = net.createServer((s) => {
    s.on('data', (d) => s.write(d));
    s.on('error', () => {});
    s.on('close', () => upstreamClosed.push(Date.now()));
  });
  await new Promise<void>((r) => server.listen(0, `${base}.1`, r));
  const port = (server.address() as net.AddressInfo).port;
  const client = wl('client', `${base}.9`, 0, 'client');
  const snap = createSnapshot('1', parseResources(SERVICES + DR('echo', '600ms'), 't'), [wl('e', `${base}.1`, port, 'echo'), client]);
  const res = translate(snap, info(client));
  const proxy = new Proxy({ nodeId: info(client).id, address: client.address, adminPort: 0 });
  for (const [type, m] of [[TYPE.cluster, res.clusters], [TYPE.endpoint, res.endpoints], [TYPE.listener, res.listeners], [TYPE.route, res.routes]] as const) {
    const r = proxy.update(type, m);
    assert.ok(r.ok, r.ok ? '' : r.error);
  }
  await proxy.start();
  await proxy.settled();
  try {
    // The app's CONNECT through its sidecar (HTTP_PROXY), as `weft run` apps reach TCP services.
    const sock = net.connect(15001, client.address);
    let got = '';
    let closedAt = 0;
    sock.on('data', (d: Buffer) => { got += d.toString(); });
    sock.on('close', () => { closedAt = Date.now(); });
    sock.on('error', () => {});
    sock.write('CONNECT echo:9000 HTTP/1.1\r\nHost: echo:9000\r\n\r\n');
    await pollUntil('tunnel established', () => Promise.resolve(got.includes('200 Connection Established')), 5000);
    // Traffic every 150 ms for 1.5 s (well past 600 ms in all): the connection stays open.
    let quietFrom = 0;
    for (let i = 0; i < 10; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 150)); // the traffic pattern itself, not a wait for state
      sock.write(`ping${i};`);
      await pollUntil(`echo ${i}`, () => Promise.resolve(got.includes(`ping${i};`)), 2000);
      quietFrom = Date.now();
    }
    assert.equal(closedAt, 0, 'a connection with traffic is not idle');
    assert.equal(upstreamClosed.length, 0);
    await pollUntil('client side closed', () => Promise.resolve(closedAt > 0), 5000);
    await pollUntil('upstream side closed', () => Promise.resolve(upstreamClosed.length === 1), 5000);
    const after = closedAt - quietFrom;
    assert.ok(after >= 450 && after < 4000, `closed ${after} ms after the last byte (idleTimeout 600 ms)`);
  } finally {
    await proxy.close();
    await new Promise((r) => server.close(r));
  }
});
