// Conformance against a client nobody here wrote: @grpc/grpc-js-xds resolving xds:///svc.example
// through our ADS server, calling two plain grpc-js backends.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import { createXdsServer, type XdsServer } from '../../src/xds/server.js';
import { TYPE } from '../../src/xds/protos.js';
import { MemorySource, until, edsCluster, loadAssignment, apiListener, weightedRoute } from './helpers.js';

// grpc-js-xds reads its feature flags at load time.
process.env.GRPC_XDS_EXPERIMENTAL_ENABLE_RETRY ??= 'true';
const require = createRequire(import.meta.url);
(require('@grpc/grpc-js-xds') as { register(): void }).register();

const PATH = '/weft.test.Echo/Who';
const ser = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));
const de = (b: Buffer): { backend: string } => JSON.parse(b.toString()) as { backend: string };
const TARGET = 'svc.example:50051';

async function startBackend(name: string): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService({
    Who: { path: PATH, requestStream: false, responseStream: false, requestSerialize: ser, requestDeserialize: de, responseSerialize: ser, responseDeserialize: de },
  }, { Who: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, { backend: name }) });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { server, port };
}

const source = new MemorySource();
let xds: XdsServer;
let backends: { server: grpc.Server; port: number }[] = [];
let client: grpc.Client;

function call(): Promise<string> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(PATH, ser, de, {}, { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res!.backend)));
  });
}

async function callMany(n: number, parallel = 50): Promise<{ a: number; b: number; failed: string[] }> {
  const out = { a: 0, b: 0, failed: [] as string[] };
  for (let done = 0; done < n; done += parallel) {
    const batch = await Promise.allSettled(Array.from({ length: Math.min(parallel, n - done) }, () => call()));
    for (const r of batch) {
      if (r.status === 'rejected') out.failed.push(String((r.reason as Error).message));
      else if (r.value === 'A') out.a++;
      else out.b++;
    }
  }
  return out;
}

function cdsStatus(): string | undefined {
  return xds.status().find((p) => p.node.id === 'grpc-client-1')?.types.find((t) => t.typeUrl === TYPE.cluster)?.status;
}

before(async () => {
  backends = [await startBackend('A'), await startBackend('B')];
  source.set(TYPE.listener, TARGET, apiListener(TARGET, 'route1'));
  source.set(TYPE.route, 'route1', weightedRoute('route1', { 'cluster-a': 80, 'cluster-b': 20 }));
  source.set(TYPE.cluster, 'cluster-a', edsCluster('cluster-a', 'eds-a'));
  source.set(TYPE.cluster, 'cluster-b', edsCluster('cluster-b', 'eds-b'));
  source.set(TYPE.endpoint, 'eds-a', loadAssignment('eds-a', [backends[0].port]));
  source.set(TYPE.endpoint, 'eds-b', loadAssignment('eds-b', [backends[1].port]));
  xds = createXdsServer(source, { debounceMs: 10 });
  const { port } = await xds.listen('127.0.0.1:0');
  const bootstrap = {
    xds_servers: [{ server_uri: `127.0.0.1:${port}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: 'grpc-client-1', locality: {}, cluster: 'test', metadata: { k: 'v' } },
  };
  client = new grpc.Client(`xds:///${TARGET}`, grpc.credentials.createInsecure(), {
    'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': JSON.stringify(bootstrap),
  });
});

after(async () => {
  client?.close();
  await xds?.close();
  for (const b of backends) b.server.forceShutdown();
});

void test('grpc-js-xds follows LDS -> RDS -> CDS -> EDS and splits traffic 80/20 by weighted_clusters', async () => {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await call();
      break;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`no successful call through xds: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const st = xds.status().find((p) => p.node.id === 'grpc-client-1');
  assert.ok(st, 'the grpc-js client is listed');
  assert.equal(st.node.userAgent, 'gRPC Node Pure JS');
  assert.deepEqual(st.types.map((t) => [t.typeUrl, t.status]), [
    [TYPE.cluster, 'SYNCED'], [TYPE.endpoint, 'SYNCED'], [TYPE.listener, 'SYNCED'], [TYPE.route, 'SYNCED']]);
  const r = await callMany(1000);
  assert.deepEqual(r.failed, []);
  const share = r.a / 1000;
  assert.ok(share > 0.75 && share < 0.85, `cluster-a got ${r.a} of 1000 calls`);
});

void test('switching to 100/0 takes effect without a single failed call', async () => {
  let stop = false;
  const failures: string[] = [];
  let calls = 0;
  const load = (async () => {
    while (!stop) {
      const r = await callMany(20, 20);
      calls += 20;
      failures.push(...r.failed);
    }
  })();
  try {
    source.set(TYPE.route, 'route1', weightedRoute('route1', { 'cluster-a': 100, 'cluster-b': 0 }));
    xds.notify();
    await until('all traffic on A', async () => {
      const r = await callMany(100);
      return r.b === 0 && r.failed.length === 0;
    }, 10_000);
  } finally {
    stop = true;
    await load;
  }
  assert.ok(calls > 0);
  assert.deepEqual(failures, []);
});

void test('an invalid Cluster (STATIC) is NACKed, shown in status, and traffic continues on the last good config', async () => {
  source.set(TYPE.cluster, 'cluster-a', { name: 'cluster-a', type: 'STATIC', lb_policy: 'ROUND_ROBIN' });
  xds.notify();
  await until('CDS NACKED', () => cdsStatus() === 'NACKED', 10_000);
  const cds = xds.status().find((p) => p.node.id === 'grpc-client-1')!.types.find((t) => t.typeUrl === TYPE.cluster)!;
  assert.match(cds.lastNack?.message ?? '', /STATIC/);
  const r = await callMany(200);
  assert.deepEqual(r.failed, []);
  assert.equal(r.a, 200);
  // Fixing it brings the stream back to SYNCED.
  source.set(TYPE.cluster, 'cluster-a', edsCluster('cluster-a', 'eds-a'));
  xds.notify();
  await until('CDS SYNCED', () => cdsStatus() === 'SYNCED', 10_000);
});
