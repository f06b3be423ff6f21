// The ADS client against our server (ACK/NACK, subscription updates) and against a bare
// recording server (node on the first request only, reconnect with last versions and names).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { createXdsServer, type NackEvent } from '../../src/xds/server.js';
import { createAdsClient, type ResourceUpdate } from '../../src/xds/client.js';
import { adsServiceDefinition, type DiscoveryRequest, type DiscoveryResponse } from '../../src/xds/codec.js';
import { TYPE, packAny } from '../../src/xds/protos.js';
import { MemorySource, until, edsCluster, loadAssignment } from './helpers.js';

const NODE = { id: 'sidecar-1', cluster: 'reviews.default', metadata: { NAMESPACE: 'default' }, locality: { region: 'r' } };
const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

void test('client: wildcard CDS and named EDS are ACKed; a handler error NACKs with INVALID_ARGUMENT and keeps the previous version', async () => {
  const source = new MemorySource();
  source.set(TYPE.cluster, 'c1', edsCluster('c1'));
  source.set(TYPE.endpoint, 'c1', loadAssignment('c1', [1]));
  source.set(TYPE.endpoint, 'c2', loadAssignment('c2', [2]));
  const server = createXdsServer(source, { debounceMs: 5 });
  cleanups.push(() => server.close());
  const { port } = await server.listen('127.0.0.1:0');
  const nacks: NackEvent[] = [];
  server.on('nack', (n) => nacks.push(n));

  const client = createAdsClient({ address: `127.0.0.1:${port}`, node: NODE });
  cleanups.push(() => client.close());
  const cds: ResourceUpdate[] = [];
  const eds: ResourceUpdate[] = [];
  client.subscribe(TYPE.cluster, '*', (u) => {
    cds.push(u);
    return [...u.resources.values()].some((c) => c.type === 'STATIC') ? 'STATIC clusters are not accepted here' : undefined;
  });
  client.subscribe(TYPE.endpoint, ['c1'], (u) => void eds.push(u));
  client.start();
  await until('both types', () => cds.length > 0 && eds.length > 0);
  assert.deepEqual([...cds[0].resources.keys()], ['c1']);
  assert.equal((cds[0].resources.get('c1') as { type: string }).type, 'EDS');
  const status = () => server.status().find((p) => p.node.id === 'sidecar-1')!;
  await until('SYNCED', () => status()?.types.every((t) => t.status === 'SYNCED'));
  assert.deepEqual(status().node.metadata, { NAMESPACE: 'default' });
  assert.deepEqual(status().node.locality, { region: 'r' });
  const v1 = client.state().types[TYPE.cluster].ackedVersion;
  assert.equal(v1, status().types[0].ackedVersion);
  assert.equal(client.state().connected, true);

  // Subscription update: c2 arrives.
  client.subscribe(TYPE.endpoint, ['c1', 'c2'], (u) => void eds.push(u));
  await until('c2', () => eds.some((u) => u.resources.has('c2')));

  // Rejected update: NACK carries the previous version and code 3.
  source.set(TYPE.cluster, 'c9', { name: 'c9', type: 'STATIC' });
  server.notify();
  await until('NACK', () => nacks.length > 0);
  assert.equal(nacks[0].code, grpc.status.INVALID_ARGUMENT);
  assert.equal(nacks[0].message, 'STATIC clusters are not accepted here');
  assert.equal(nacks[0].version, v1);
  assert.equal(client.state().types[TYPE.cluster].ackedVersion, v1);
  assert.equal(client.state().types[TYPE.cluster].lastNack, 'STATIC clusters are not accepted here');
  assert.equal(status().types[0].status, 'NACKED');

  // A handler that throws NACKs as well; nothing escapes.
  client.subscribe(TYPE.cluster, '*', () => {
    throw new Error('boom');
  });
  source.set(TYPE.cluster, 'c9', edsCluster('c9'));
  server.notify();
  await until('second NACK', () => nacks.length > 1);
  assert.equal(nacks[1].message, 'boom');

  // Unsubscribing (an explicit "*" was sent, so an empty list now means none).
  client.unsubscribe(TYPE.endpoint);
  await until('EDS unsubscribed', () => status().types.find((t) => t.typeUrl === TYPE.endpoint)?.subscription.names.length === 0);
  assert.equal(status().types.find((t) => t.typeUrl === TYPE.cluster)?.subscription.wildcard, true);
});

/** A bare ADS endpoint that records requests and answers each new subscription with one resource. */
async function recordingServer(port = 0, label = 'first'): Promise<{ server: grpc.Server; port: number; requests: DiscoveryRequest[] }> {
  const requests: DiscoveryRequest[] = [];
  const server = new grpc.Server();
  let nonce = 0;
  server.addService(adsServiceDefinition(), {
    StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) => {
      call.on('data', (req: DiscoveryRequest) => {
        requests.push(req);
        if (req.response_nonce !== '') return;
        call.write({ version_info: `v-${label}`, type_url: req.type_url, nonce: String(++nonce),
          resources: req.resource_names.map((n) => packAny(TYPE.endpoint, loadAssignment(n, [1]))) });
      });
      call.on('error', () => {});
    },
  });
  const bound = await new Promise<number>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { server, port: bound, requests };
}

void test('client: node only on the first request; after the server is lost it reconnects with backoff and resubscribes with its last versions', async () => {
  const first = await recordingServer();
  cleanups.push(() => first.server.forceShutdown());
  const client = createAdsClient({ address: `127.0.0.1:${first.port}`, node: NODE, backoff: { initialMs: 50, maxMs: 200 } });
  cleanups.push(() => client.close());
  const updates: ResourceUpdate[] = [];
  const disconnects: string[] = [];
  client.on('disconnected', (d) => disconnects.push(d.error));
  client.subscribe(TYPE.endpoint, ['e1', 'e2'], (u) => void updates.push(u));
  client.subscribe(TYPE.route, ['r1'], () => undefined);
  client.start();
  await until('ACKs', () => first.requests.filter((r) => r.response_nonce !== '').length === 2);
  assert.ok(first.requests[0].node, 'the first request carries the node');
  assert.equal((first.requests[0].node as { id: string }).id, 'sidecar-1');
  assert.ok(first.requests.slice(1).every((r) => r.node === undefined), 'later requests do not');
  assert.deepEqual([...updates[0].resources.keys()], ['e1', 'e2']);
  const version = client.state().types[TYPE.endpoint].ackedVersion;
  assert.equal(version, 'v-first');

  first.server.forceShutdown();
  await until('disconnected', () => !client.state().connected && disconnects.length > 0);
  const second = await recordingServer(first.port, 'second');
  cleanups.push(() => second.server.forceShutdown());
  await until('resubscribed', () => second.requests.length >= 2, 10_000);
  const eds = second.requests.find((r) => r.type_url === TYPE.endpoint)!;
  assert.equal(eds.version_info, version);
  assert.deepEqual(eds.resource_names, ['e1', 'e2']);
  assert.equal(eds.response_nonce, '');
  assert.ok(second.requests[0].node, 'the node is sent again on the new stream');
  await until('connected again', () => client.state().connected);
});

void test('client: an unreachable server is retried without throwing, and close() stops it', async () => {
  const probe = await recordingServer();
  probe.server.forceShutdown();
  const client = createAdsClient({ address: `127.0.0.1:${probe.port}`, node: NODE, backoff: { initialMs: 20, maxMs: 40 } });
  const disconnects: number[] = [];
  client.on('disconnected', (d) => disconnects.push(d.retryInMs));
  client.subscribe(TYPE.cluster, '*', () => undefined);
  client.start();
  await until('retries', () => disconnects.length >= 3, 10_000);
  assert.ok(disconnects.every((ms) => ms <= 40), `backoff stays under the cap: ${disconnects.join(',')}`);
  client.close();
  const n = disconnects.length;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(disconnects.length, n, 'no retry after close()');
});

void test('client (delta): handlers see full state for CDS and changes for EDS; removals and NACKs work', async () => {
  const source = new MemorySource();
  source.set(TYPE.cluster, 'c1', edsCluster('c1'));
  source.set(TYPE.cluster, 'c2', edsCluster('c2'));
  source.set(TYPE.endpoint, 'c1', loadAssignment('c1', [1]));
  source.set(TYPE.endpoint, 'c2', loadAssignment('c2', [2]));
  const server = createXdsServer(source, { debounceMs: 5 });
  cleanups.push(() => server.close());
  const { port } = await server.listen('127.0.0.1:0');
  const client = createAdsClient({ address: `127.0.0.1:${port}`, node: { ...NODE, id: 'delta-sidecar' }, protocol: 'delta' });
  cleanups.push(() => client.close());
  const cds: ResourceUpdate[] = [];
  const eds: ResourceUpdate[] = [];
  client.subscribe(TYPE.cluster, '*', (u) => {
    cds.push(u);
    return u.resources.has('bad') ? 'no bad clusters' : undefined;
  });
  client.subscribe(TYPE.endpoint, ['c1', 'c2'], (u) => void eds.push(u));
  client.start();
  await until('initial', () => cds.length > 0 && eds.length > 0);
  assert.deepEqual([...cds[0].resources.keys()].sort(), ['c1', 'c2']);
  assert.deepEqual([...eds[0].resources.keys()].sort(), ['c1', 'c2']);
  const status = () => server.status().find((p) => p.node.id === 'delta-sidecar');
  await until('SYNCED', () => status()?.types.every((t) => t.status === 'SYNCED'));

  source.set(TYPE.cluster, 'c2', undefined);
  source.set(TYPE.cluster, 'c3', edsCluster('c3'));
  source.set(TYPE.endpoint, 'c2', loadAssignment('c2', [2, 3]));
  server.notify();
  await until('updates', () => cds.length > 1 && eds.length > 1);
  assert.deepEqual([...cds[1].resources.keys()].sort(), ['c1', 'c3'], 'CDS handler gets the full state');
  assert.deepEqual(cds[1].removed, ['c2']);
  assert.deepEqual([...eds[1].resources.keys()], ['c2'], 'EDS handler gets the change only');

  source.set(TYPE.cluster, 'bad', edsCluster('bad'));
  server.notify();
  await until('NACKED', () => status()?.types.find((t) => t.typeUrl === TYPE.cluster)?.status === 'NACKED');
  assert.equal(client.state().types[TYPE.cluster].lastNack, 'no bad clusters');
  // The NACKed update was not committed: the next one builds on c1+c3.
  source.set(TYPE.cluster, 'bad', undefined);
  source.set(TYPE.cluster, 'c4', edsCluster('c4'));
  server.notify();
  await until('after NACK', () => cds.some((u) => u.resources.has('c4')));
  assert.deepEqual([...cds[cds.length - 1].resources.keys()].sort(), ['c1', 'c3', 'c4']);
});

void test('client (delta): after a reconnect, initial_resource_versions spare the resend of what it already holds', async () => {
  const source = new MemorySource();
  source.set(TYPE.endpoint, 'e1', loadAssignment('e1', [1]));
  source.set(TYPE.endpoint, 'e2', loadAssignment('e2', [2]));
  const first = createXdsServer(source, { debounceMs: 5 });
  const { port } = await first.listen('127.0.0.1:0');
  const client = createAdsClient({ address: `127.0.0.1:${port}`, node: { ...NODE, id: 'delta-re' }, protocol: 'delta', backoff: { initialMs: 20, maxMs: 100 } });
  cleanups.push(() => client.close());
  const eds: ResourceUpdate[] = [];
  client.subscribe(TYPE.endpoint, ['e1', 'e2'], (u) => void eds.push(u));
  client.start();
  await until('initial', () => eds.length === 1 && client.state().types[TYPE.endpoint].ackedVersion !== '');
  await first.close();
  await until('disconnected', () => !client.state().connected);
  const second = createXdsServer(source, { debounceMs: 5 });
  cleanups.push(() => second.close());
  await second.listen(`127.0.0.1:${port}`);
  await until('resubscribed', () => second.status().find((p) => p.node.id === 'delta-re')?.types[0]?.subscription.names.length === 2, 10_000);
  source.set(TYPE.endpoint, 'e2', loadAssignment('e2', [2, 3]));
  second.notify();
  await until('the change', () => eds.length > 1);
  assert.equal(eds.length, 2, 'unchanged resources were sent again after the reconnect');
  assert.deepEqual([...eds[1].resources.keys()], ['e2']);
});
