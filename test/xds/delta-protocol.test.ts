// Delta ADS (DeltaAggregatedResources) driven by raw DeltaDiscoveryRequests.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createXdsServer } from '../../src/xds/server.js';
import { TYPE } from '../../src/xds/protos.js';
import { MemorySource, RawDelta, until, edsCluster, loadAssignment } from './helpers.js';

const source = new MemorySource();
source.set(TYPE.cluster, 'c1', edsCluster('c1'));
source.set(TYPE.cluster, 'c2', edsCluster('c2'));
source.set(TYPE.endpoint, 'c1', loadAssignment('c1', [1]));
source.set(TYPE.endpoint, 'c2', loadAssignment('c2', [2]));
const server = createXdsServer(source, { debounceMs: 5, clusterAckWaitMs: 0 });
let port = 0;
before(async () => {
  port = (await server.listen('127.0.0.1:0')).port;
});
after(() => server.close());
const NODE = { id: 'delta-1', locality: {} };

void test('delta: wildcard CDS gets everything, then only changes and removals; ACK marks SYNCED', async () => {
  const ads = new RawDelta(port);
  try {
    ads.send({ type_url: TYPE.cluster, node: NODE });
    const r1 = await ads.next();
    assert.deepEqual(r1.names, ['c1', 'c2']);
    assert.ok(r1.resources.every((r) => r.version !== '' && r.resource.type_url === TYPE.cluster));
    ads.send({ type_url: TYPE.cluster, response_nonce: r1.nonce });
    const st = () => server.status().find((p) => p.node.id === 'delta-1')!.types[0];
    await until('SYNCED', () => st().status === 'SYNCED');
    assert.equal(server.status().find((p) => p.node.id === 'delta-1')!.protocol, 'delta');
    assert.equal(st().ackedVersion, r1.system_version_info);
    source.set(TYPE.cluster, 'c2', { ...edsCluster('c2'), connect_timeout: { seconds: 2 } });
    source.set(TYPE.cluster, 'c1', undefined);
    server.notify();
    const r2 = await ads.next();
    assert.deepEqual(r2.names, ['c2']);
    assert.deepEqual(r2.removed_resources, ['c1']);
    ads.send({ type_url: TYPE.cluster, response_nonce: r2.nonce, error_detail: { code: 3, message: 'nope' } });
    await until('NACKED', () => st().status === 'NACKED');
    assert.equal(st().lastNack?.message, 'nope');
  } finally {
    source.set(TYPE.cluster, 'c1', edsCluster('c1'));
    source.set(TYPE.cluster, 'c2', edsCluster('c2'));
    ads.close();
  }
});

void test('delta: named EDS subscribe/unsubscribe, non-existence in removed_resources, subscriptions honoured with a stale nonce', async () => {
  const ads = new RawDelta(port);
  try {
    ads.send({ type_url: TYPE.endpoint, node: { ...NODE, id: 'delta-2' }, resource_names_subscribe: ['c1', 'ghost'] });
    const r1 = await ads.next();
    assert.deepEqual(r1.names, ['c1']);
    assert.deepEqual(r1.removed_resources, ['ghost']);
    // A stale nonce still subscribes c2.
    ads.send({ type_url: TYPE.endpoint, response_nonce: 'old', resource_names_subscribe: ['c2'] });
    const r2 = await ads.next();
    assert.deepEqual(r2.names, ['c2']);
    assert.deepEqual(r2.removed_resources, []);
    ads.send({ type_url: TYPE.endpoint, response_nonce: r2.nonce, resource_names_unsubscribe: ['c2'] });
    ads.send({ type_url: TYPE.endpoint, response_nonce: r2.nonce, resource_names_subscribe: ['c2'] });
    const r3 = await ads.next();
    assert.deepEqual(r3.names, ['c2'], 're-subscribing resends what the client dropped');
  } finally {
    ads.close();
  }
});

void test('delta: a reconnecting client listing initial_resource_versions is sent only what differs', async () => {
  const first = new RawDelta(port);
  const r1 = await (async () => {
    try {
      first.send({ type_url: TYPE.endpoint, node: { ...NODE, id: 'delta-3' }, resource_names_subscribe: ['c1', 'c2'] });
      return await first.next();
    } finally {
      first.close();
    }
  })();
  const versions = Object.fromEntries(r1.resources.map((r) => [r.name, r.version]));
  source.set(TYPE.endpoint, 'c2', loadAssignment('c2', [2, 3]));
  const again = new RawDelta(port);
  try {
    again.send({ type_url: TYPE.endpoint, node: { ...NODE, id: 'delta-3' }, resource_names_subscribe: ['c1', 'c2'], initial_resource_versions: versions });
    const r2 = await again.next();
    assert.deepEqual(r2.names, ['c2']);
  } finally {
    source.set(TYPE.endpoint, 'c2', loadAssignment('c2', [2]));
    again.close();
  }
});

void test('delta: a reconnecting client that already holds everything is sent nothing and shows SYNCED', async () => {
  const first = new RawDelta(port);
  const r1 = await (async () => {
    try {
      first.send({ type_url: TYPE.endpoint, node: { ...NODE, id: 'delta-4' }, resource_names_subscribe: ['c1', 'c2'] });
      return await first.next();
    } finally {
      first.close();
    }
  })();
  const versions = Object.fromEntries(r1.resources.map((r) => [r.name, r.version]));
  const again = new RawDelta(port);
  try {
    again.send({ type_url: TYPE.endpoint, node: { ...NODE, id: 'delta-4' }, resource_names_subscribe: ['c1', 'c2'], initial_resource_versions: versions });
    const st = () => server.status().find((p) => p.node.id === 'delta-4' && p.types[0]?.status === 'SYNCED');
    await until('SYNCED without a response', st);
    assert.equal(st()!.types[0].ackedVersion, r1.system_version_info);
    source.set(TYPE.endpoint, 'c2', loadAssignment('c2', [2, 4]));
    server.notify();
    const r2 = await again.next();
    assert.deepEqual(r2.names, ['c2'], 'the next change is sent as usual');
  } finally {
    source.set(TYPE.endpoint, 'c2', loadAssignment('c2', [2]));
    again.close();
  }
});

void test('delta: a new client is answered even when there is nothing (wildcard LDS before any listener exists)', async () => {
  const ads = new RawDelta(port);
  try {
    ads.send({ type_url: TYPE.listener, node: { ...NODE, id: 'delta-5' } });
    const r = await ads.next();
    assert.deepEqual(r.names, []);
    assert.deepEqual(r.removed_resources, []);
    assert.notEqual(r.nonce, '');
  } finally {
    ads.close();
  }
});
