// Conformance against a client nobody here wrote: a proxyless @grpc/grpc-js-xds client takes its
// config from a real weftd (Istio YAML in, xDS out) and calls a service with two backends.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { callGreeter as call, greeterBackend as backend } from '../helpers/grpc.js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { TYPE } from '../../src/xds/protos.js';
import type { ProxyStatus } from '../../src/xds/types.js';
import { TestMesh } from '../helpers/mesh.js';
import { uniqueAddressBase } from '../helpers/weftd.js';

grpcXds.register();


const vs = (w1: number, w2: number) => `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: greeter }
spec:
  hosts: [greeter.example.com]
  http:
  - route:
    - destination: { host: greeter.example.com, subset: v1 }
      weight: ${w1}
    - destination: { host: greeter.example.com, subset: v2 }
      weight: ${w2}
`;

let mesh: TestMesh;
let client: grpc.Client;
let backends: { server: grpc.Server; port: number }[] = [];
let base = '';

before(async () => {
  mesh = await TestMesh.start({ insecureXds: true }); // the grpc-js-xds bootstrap below uses insecure channel creds
  base = uniqueAddressBase();
  backends = [await backend(`${base}.0.10`, 'v1'), await backend(`${base}.0.11`, 'v2')];
  await mesh.apply(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: greeter }
spec:
  hosts: [greeter.example.com]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 50051, name: grpc, protocol: GRPC }]
  workloadSelector: { labels: { app: greeter } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: greeter-v1 }
spec: { address: ${base}.0.10, ports: { grpc: ${backends[0].port} }, labels: { app: greeter, version: v1 } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: greeter-v2 }
spec: { address: ${base}.0.11, ports: { grpc: ${backends[1].port} }, labels: { app: greeter, version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: greeter }
spec: { host: greeter.example.com, subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }] }
---${vs(80, 20)}`);
  const bootstrap = {
    xds_servers: [{ server_uri: mesh.weftd.xdsAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: 'sidecar~127.0.0.1~greeter-client.default~default.svc.cluster.local', locality: {}, metadata: { GENERATOR: 'grpc', NAMESPACE: 'default' } },
  };
  client = new grpc.Client('xds:///greeter.example.com:50051', grpc.credentials.createInsecure(),
    { 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': JSON.stringify(bootstrap) });
});

after(async () => {
  client?.close();
  for (const b of backends) b.server.forceShutdown();
  await mesh?.stop();
});

async function firstCall(): Promise<void> {
  const deadline = Date.now() + 20_000;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      await call(client);
      return;
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`no successful call: ${String(last)}`);
}

test('an 80/20 VirtualService splits 1000 proxyless gRPC calls 80% ±5%', { timeout: 60_000 }, async () => {
  await firstCall();
  const counts: Record<string, number> = { v1: 0, v2: 0 };
  for (let i = 0; i < 1000; i++) counts[await call(client)]++;
  assert.ok(Math.abs(counts.v1 / 1000 - 0.8) <= 0.05, `v1 got ${counts.v1}/1000`);
});

test('changing to 100/0 takes effect without a failed call', { timeout: 60_000 }, async () => {
  let failures = 0;
  let stop = false;
  const seen: string[] = [];
  const loop = (async () => {
    while (!stop) {
      try {
        seen.push(await call(client));
      } catch {
        failures++;
      }
    }
  })();
  await mesh.apply(vs(100, 0));
  const deadline = Date.now() + 10_000;
  // Once 200 calls in a row went to v1, the change has taken effect.
  while (Date.now() < deadline) {
    const tail = seen.slice(-200);
    if (tail.length === 200 && tail.every((v) => v === 'v1')) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  stop = true;
  await loop;
  assert.equal(failures, 0);
  assert.ok(seen.slice(-200).every((v) => v === 'v1'), 'traffic did not move to v1 within 10 s');
});

test('a cluster grpc-js rejects is NACKed and traffic continues on the last good config', { timeout: 60_000 }, async () => {
  // A ring of 10M entries validates as Istio YAML, but grpc-js refuses ring sizes above 8M
  // (its rule, not ours): the Cluster is NACKed and the client keeps its last good config.
  await mesh.apply(`
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: greeter }
spec:
  host: greeter.example.com
  trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: x-user, ringHash: { minimumRingSize: 10000000 } } } }
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
`);
  const deadline = Date.now() + 15_000;
  let nacked = false;
  while (!nacked && Date.now() < deadline) {
    const res = await fetch(`${mesh.weftd.apiUrl}/apis/weft.dev/v1/proxystatus`, { headers: { authorization: `Bearer ${mesh.weftd.adminToken}` } });
    const { items } = (await res.json()) as { items: ProxyStatus[] };
    nacked = items.some((p) => p.node.metadata.GENERATOR === 'grpc' && p.types.some((t) => t.typeUrl === TYPE.cluster && t.status === 'NACKED'));
    if (!nacked) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(nacked, 'weftd never saw the NACK for the oversized ring');
  for (let i = 0; i < 100; i++) assert.equal(await call(client), 'v1');
});
