// End to end with a real proxyless client: @grpc/grpc-js-xds dials xds:///greeter:50051 against
// Weft's ADS server serving translateForGrpc output, and its calls reach the backends the
// VirtualService picks. Proves the resources pass grpc-js validation (no NACK) and route as meant.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { callGreeter as call, greeterBackend as backend } from '../helpers/grpc.js';
import * as grpcXds from '@grpc/grpc-js-xds';
import type { Workload } from '../../src/model/index.js';
import { createSnapshot } from '../../src/registry/index.js';
import { parseNodeId, translateForGrpc } from '../../src/translate/index.js';
import { createXdsServer, type NackEvent } from '../../src/xds/server.js';
import { parseResources } from './harness.js';

grpcXds.register();


void test('a grpc-js xDS client routes by header through Weft-translated resources', { timeout: 20_000 }, async () => {
  const v1 = await backend('127.0.0.1', 'v1');
  const v2 = await backend('127.0.0.1', 'v2');
  const workloads: Workload[] = [
    { name: 'greeter-v1', namespace: 'default', address: '127.0.0.1', labels: { app: 'greeter', version: 'v1' }, serviceAccount: 'g', ports: { grpc: v1.port }, locality: 'r/z1' },
    { name: 'greeter-v2', namespace: 'default', address: '127.0.0.1', labels: { app: 'greeter', version: 'v2' }, serviceAccount: 'g', ports: { grpc: v2.port }, locality: 'r/z2' },
  ];
  const snapshot = createSnapshot('1', parseResources(`
apiVersion: v1
kind: Service
metadata: { name: greeter }
spec: { selector: { app: greeter }, ports: [{ name: grpc, port: 50051 }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: greeter }
spec: { host: greeter, subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: greeter }
spec:
  hosts: [greeter]
  http:
  - match: [{ headers: { x-canary: { exact: "yes" } } }]
    route: [{ destination: { host: greeter, subset: v2 } }]
    timeout: 5s
  - route: [{ destination: { host: greeter, subset: v1 } }]
`, 'e2e'), workloads);
  const nacks: NackEvent[] = [];
  const xds = createXdsServer({
    resources: (node, typeUrl, names) => translateForGrpc(snapshot, parseNodeId(node.id, node.metadata), typeUrl, names === '*' ? [] : names),
  }, { debounceMs: 5, clusterAckWaitMs: 0 });
  xds.on('nack', (e) => nacks.push(e));
  const { port } = await xds.listen('127.0.0.1:0');
  const bootstrap = {
    xds_servers: [{ server_uri: `127.0.0.1:${port}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: 'greeter-client~default', locality: {}, metadata: { GENERATOR: 'grpc', NAMESPACE: 'default' } },
  };
  const client = new grpc.Client('xds:///greeter:50051', grpc.credentials.createInsecure(),
    { 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': JSON.stringify(bootstrap) });
  try {
    const deadline = Date.now() + 15_000;
    let first: string | undefined;
    let lastErr: unknown;
    while (first === undefined && Date.now() < deadline) {
      try {
        first = await call(client, {});
      } catch (e) {
        lastErr = e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.equal(first, 'v1', `no successful call before the deadline: ${String(lastErr)}; NACKs: ${JSON.stringify(nacks)}`);
    assert.equal(await call(client, { 'x-canary': 'yes' }), 'v2');
    assert.equal(await call(client, { 'x-canary': 'no' }), 'v1');
    assert.deepEqual(nacks, []);
  } finally {
    client.close();
    await xds.close();
    v1.server.forceShutdown();
    v2.server.forceShutdown();
  }
});
