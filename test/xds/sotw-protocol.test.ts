// SotW ADS protocol rules, driven by raw DiscoveryRequests over a real gRPC stream.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createXdsServer, type XdsServer, type PushEvent } from '../../src/xds/server.js';
import { TYPE } from '../../src/xds/protos.js';
import { MemorySource, RawAds, until, edsCluster, loadAssignment, apiListener, simpleRoute } from './helpers.js';

const NODE = { id: 'node-a', cluster: 'c', locality: {}, metadata: { fields: { app: { stringValue: 'reviews' } } } };

function setup(opts: { clusterAckWaitMs?: number; debounceMs?: number } = {}): { source: MemorySource; server: XdsServer; port: () => number } {
  const source = new MemorySource();
  source.set(TYPE.cluster, 'c1', edsCluster('c1'));
  source.set(TYPE.cluster, 'c2', edsCluster('c2'));
  source.set(TYPE.endpoint, 'c1', loadAssignment('c1', [1001]));
  source.set(TYPE.endpoint, 'c2', loadAssignment('c2', [1002]));
  source.set(TYPE.listener, 'l1', apiListener('l1', 'r1'));
  source.set(TYPE.route, 'r1', simpleRoute('r1', 'c1'));
  const server = createXdsServer(source, { debounceMs: opts.debounceMs ?? 5, clusterAckWaitMs: opts.clusterAckWaitMs ?? 0 });
  let port = 0;
  before(async () => {
    port = (await server.listen('127.0.0.1:0')).port;
  });
  after(() => server.close());
  return { source, server, port: () => port };
}

function typeStatus(server: XdsServer, nodeId: string, typeUrl: string) {
  return server.status().find((p) => p.node.id === nodeId)?.types.find((t) => t.typeUrl === typeUrl);
}

void describe('SotW ADS protocol', () => {
  const { source, server, port } = setup();

  void test('ACK: the node is cached from the first request and an ACK marks the type SYNCED', async () => {
    const ads = new RawAds(port());
    try {
      ads.send({ type_url: TYPE.cluster, node: NODE });
      const r = await ads.next();
      assert.deepEqual(r.names.sort(), ['c1', 'c2']);
      assert.equal(typeStatus(server, 'node-a', TYPE.cluster)?.status, 'STALE');
      ads.ack(r);
      await until('SYNCED', () => typeStatus(server, 'node-a', TYPE.cluster)?.status === 'SYNCED');
      // A second type on the same stream carries no node; the source still sees it.
      ads.send({ type_url: TYPE.endpoint, resource_names: ['c1'] });
      const e = await ads.next();
      assert.deepEqual(e.names, ['c1']);
      const last = source.nodesSeen[source.nodesSeen.length - 1];
      assert.equal(last.id, 'node-a');
      assert.deepEqual(last.metadata, { app: 'reviews' });
      const st = typeStatus(server, 'node-a', TYPE.cluster)!;
      assert.equal(st.ackedVersion, r.version_info);
      assert.equal(st.sentVersion, r.version_info);
    } finally {
      ads.close();
    }
  });

  void test('NACK (by error_detail, even with the new version) is recorded and nothing is resent until the config changes', async () => {
    const ads = new RawAds(port());
    try {
      ads.send({ type_url: TYPE.cluster, node: { ...NODE, id: 'node-nack' } });
      const r = await ads.next();
      // grpc-js sends the new version when some resources were valid: error_detail alone decides.
      ads.send({ type_url: TYPE.cluster, version_info: r.version_info, response_nonce: r.nonce, error_detail: { code: 14, message: 'bad cluster c2' } });
      ads.send({ type_url: TYPE.endpoint, resource_names: ['c1'] });
      assert.equal((await ads.next()).type_url, TYPE.endpoint);
      const st = typeStatus(server, 'node-nack', TYPE.cluster)!;
      assert.equal(st.status, 'NACKED');
      assert.equal(st.lastNack?.message, 'bad cluster c2');
      assert.equal(st.ackedVersion, '');
      // An unrelated recomputation must not resend the NACKed clusters; a changed endpoint is the marker.
      server.notify();
      source.set(TYPE.endpoint, 'c1', loadAssignment('c1', [1001, 1003]));
      server.notify(['node-nack']);
      const marker = await ads.next();
      assert.equal(marker.type_url, TYPE.endpoint, 'the NACKed CDS response was sent again without a change');
      source.set(TYPE.cluster, 'c3', edsCluster('c3'));
      server.notify();
      const again = await ads.next();
      assert.equal(again.type_url, TYPE.cluster);
      assert.notEqual(again.version_info, r.version_info);
      assert.deepEqual(again.names.sort(), ['c1', 'c2', 'c3']);
      source.set(TYPE.cluster, 'c3', undefined);
      source.set(TYPE.endpoint, 'c1', loadAssignment('c1', [1001]));
    } finally {
      ads.close();
    }
  });

  void test('a request with a stale nonce is ignored, subscription change included', async () => {
    const ads = new RawAds(port());
    try {
      ads.send({ type_url: TYPE.endpoint, resource_names: ['c1'], node: { ...NODE, id: 'node-stale' } });
      const r1 = await ads.next();
      ads.ack(r1, ['c1']);
      source.set(TYPE.endpoint, 'c1', loadAssignment('c1', [1001, 1009]));
      server.notify();
      const r2 = await ads.next();
      assert.notEqual(r2.nonce, r1.nonce);
      // Old nonce + new names: stale, so c2 is not sent and the ACK does not count.
      ads.send({ type_url: TYPE.endpoint, version_info: r1.version_info, response_nonce: r1.nonce, resource_names: ['c1', 'c2'] });
      ads.send({ type_url: TYPE.cluster, resource_names: ['c1'] });
      const marker = await ads.next();
      assert.equal(marker.type_url, TYPE.cluster, 'a stale request was answered');
      const st = typeStatus(server, 'node-stale', TYPE.endpoint)!;
      assert.equal(st.status, 'STALE');
      assert.deepEqual(st.subscription.names, ['c1']);
      source.set(TYPE.endpoint, 'c1', loadAssignment('c1', [1001]));
    } finally {
      ads.close();
    }
  });

  void test('a subscription change with the current nonce sends the newly requested resources, unchanged or not', async () => {
    const ads = new RawAds(port());
    try {
      ads.send({ type_url: TYPE.endpoint, resource_names: ['c1'], node: { ...NODE, id: 'node-sub' } });
      const r1 = await ads.next();
      assert.deepEqual(r1.names, ['c1']);
      ads.ack(r1, ['c1', 'c2']);
      const r2 = await ads.next();
      assert.deepEqual(r2.names, ['c2'], 'only the new name is sent for EDS');
      assert.notEqual(r2.version_info, r1.version_info);
      ads.ack(r2, ['c1']);
      // Unsubscribed then subscribed again: the proxy dropped c2, so it is sent again.
      await until('unsubscribed', () => typeStatus(server, 'node-sub', TYPE.endpoint)?.subscription.names.length === 1);
      ads.ack(r2, ['c1', 'c2']);
      const r3 = await ads.next();
      assert.deepEqual(r3.names, ['c2']);
      assert.equal(r3.version_info, r2.version_info, 'same content, same version');
    } finally {
      ads.close();
    }
  });

  void test('wildcard: "*" and a first empty list are wildcard for CDS/LDS, not for RDS/EDS; later an empty list means none', async () => {
    const ads = new RawAds(port());
    try {
      ads.send({ type_url: TYPE.route, resource_names: [], node: { ...NODE, id: 'node-wild' } });
      ads.send({ type_url: TYPE.listener, resource_names: ['*'] });
      const l = await ads.next();
      assert.equal(l.type_url, TYPE.listener, 'an empty RDS request is not a wildcard');
      assert.deepEqual(l.names, ['l1']);
      ads.ack(l, ['*']);
      ads.send({ type_url: TYPE.cluster, resource_names: [] });
      const c = await ads.next();
      assert.deepEqual(c.names.sort(), ['c1', 'c2']);
      ads.ack(c, ['c1']);
      await until('named', () => typeStatus(server, 'node-wild', TYPE.cluster)?.subscription.wildcard === false);
      // Having named c1, an empty list now unsubscribes everything: a new cluster is not pushed.
      ads.ack(c, []);
      await until('none', () => typeStatus(server, 'node-wild', TYPE.cluster)?.subscription.names.length === 0);
      source.set(TYPE.cluster, 'c9', edsCluster('c9'));
      source.set(TYPE.listener, 'l9', apiListener('l9', 'r1'));
      server.notify();
      const next = await ads.next();
      assert.equal(next.type_url, TYPE.listener, 'clusters were pushed to a stream subscribed to none');
      assert.deepEqual(next.names.sort(), ['l1', 'l9']);
      assert.equal(typeStatus(server, 'node-wild', TYPE.cluster)!.subscription.wildcard, false);
    } finally {
      source.set(TYPE.cluster, 'c9', undefined);
      source.set(TYPE.listener, 'l9', undefined);
      ads.close();
    }
  });

  void test('LDS/CDS responses carry the full state, RDS/EDS only what changed', async () => {
    const ads = new RawAds(port());
    try {
      ads.send({ type_url: TYPE.cluster, resource_names: ['*'], node: { ...NODE, id: 'node-full' } });
      const c = await ads.next();
      ads.ack(c, ['*']);
      ads.send({ type_url: TYPE.endpoint, resource_names: ['c1', 'c2'] });
      const e = await ads.next();
      assert.deepEqual(e.names.sort(), ['c1', 'c2']);
      ads.ack(e, ['c1', 'c2']);
      source.set(TYPE.cluster, 'c2', { ...edsCluster('c2'), connect_timeout: { seconds: 3 } });
      source.set(TYPE.endpoint, 'c2', loadAssignment('c2', [1002, 1004]));
      server.notify();
      const c2 = await ads.next();
      assert.equal(c2.type_url, TYPE.cluster);
      assert.deepEqual(c2.names.sort(), ['c1', 'c2']);
      assert.equal(new Set(c2.names).size, c2.names.length);
      const e2 = await ads.next();
      assert.equal(e2.type_url, TYPE.endpoint);
      assert.deepEqual(e2.names, ['c2']);
      // Deleting a cluster sends the full state without it.
      source.set(TYPE.cluster, 'c2', undefined);
      server.notify();
      const c3 = await ads.next();
      assert.deepEqual(c3.names, ['c1']);
      assert.notEqual(c3.version_info, c2.version_info);
    } finally {
      source.set(TYPE.cluster, 'c2', edsCluster('c2'));
      source.set(TYPE.endpoint, 'c2', loadAssignment('c2', [1002]));
      ads.close();
    }
  });
});

void describe('push order and debounce', () => {
  const { source, server, port } = setup({ clusterAckWaitMs: 10_000, debounceMs: 30 });

  void test('several types change at once: Cluster, ClusterLoadAssignment, Listener, Route; listeners wait for the cluster ACK', async () => {
    const ads = new RawAds(port());
    const pushes: PushEvent[] = [];
    server.on('push', (p) => pushes.push(p));
    try {
      ads.send({ type_url: TYPE.route, resource_names: ['r1'], node: { ...NODE, id: 'node-order' } });
      ads.send({ type_url: TYPE.listener, resource_names: ['*'] });
      ads.send({ type_url: TYPE.endpoint, resource_names: ['c1', 'c3'] });
      ads.send({ type_url: TYPE.cluster, resource_names: ['*'] });
      const initial = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const r = await ads.next(15_000);
        initial.add(r.type_url);
        ads.ack(r, r.type_url === TYPE.endpoint ? ['c1', 'c3'] : r.type_url === TYPE.route ? ['r1'] : ['*']);
      }
      assert.equal(initial.size, 4);
      await until('all acked', () => server.status().find((p) => p.node.id === 'node-order')?.types.every((t) => t.status === 'SYNCED'));
      // A new cluster and route to it, with its endpoints and a listener change.
      source.set(TYPE.route, 'r1', simpleRoute('r1', 'c3'));
      source.set(TYPE.listener, 'l1', apiListener('l1', 'r1'));
      source.set(TYPE.listener, 'l3', apiListener('l3', 'r1'));
      source.set(TYPE.endpoint, 'c3', loadAssignment('c3', [1003]));
      source.set(TYPE.cluster, 'c3', edsCluster('c3'));
      pushes.length = 0;
      server.notify();
      const c = await ads.next();
      const e = await ads.next();
      assert.deepEqual([c.type_url, e.type_url], [TYPE.cluster, TYPE.endpoint]);
      assert.deepEqual(pushes.map((p) => p.typeUrl), [TYPE.cluster, TYPE.endpoint], 'listeners were sent before the cluster ACK');
      ads.ack(c, ['*']);
      const l = await ads.next();
      const r = await ads.next();
      assert.deepEqual([l.type_url, r.type_url], [TYPE.listener, TYPE.route]);
    } finally {
      ads.close();
    }
  });

  void test('a burst of notify() calls is computed once', async () => {
    const ads = new RawAds(port());
    try {
      ads.send({ type_url: TYPE.cluster, resource_names: ['*'], node: { ...NODE, id: 'node-debounce' } });
      ads.ack(await ads.next(), ['*']);
      await until('acked', () => typeStatus(server, 'node-debounce', TYPE.cluster)?.status === 'SYNCED');
      const before = source.calls;
      for (let i = 0; i < 20; i++) server.notify(['node-debounce']);
      source.set(TYPE.cluster, 'c4', edsCluster('c4'));
      const r = await ads.next();
      assert.ok(r.names.includes('c4'));
      assert.equal(source.calls - before, 1, 'one recomputation for 20 notifications');
    } finally {
      ads.close();
    }
  });
});

void describe('status and bad resources', () => {
  const { source, server, port } = setup();

  void test('status() reports NOT SENT, STALE, SYNCED and NACKED per type', async () => {
    const ads = new RawAds(port());
    try {
      ads.send({ type_url: TYPE.route, resource_names: ['missing'], node: { ...NODE, id: 'node-status' } });
      ads.send({ type_url: TYPE.cluster, resource_names: ['*'] });
      const c = await ads.next();
      const st = () => server.status().find((p) => p.node.id === 'node-status')!;
      assert.equal(st().types.find((t) => t.typeUrl === TYPE.route)?.status, 'NOT SENT');
      assert.equal(st().types.find((t) => t.typeUrl === TYPE.cluster)?.status, 'STALE');
      assert.deepEqual(st().types.map((t) => t.typeUrl), [TYPE.cluster, TYPE.route], 'types are listed in push order');
      ads.ack(c, ['*']);
      await until('SYNCED', () => st().types.find((t) => t.typeUrl === TYPE.cluster)?.status === 'SYNCED');
      source.set(TYPE.cluster, 'c5', edsCluster('c5'));
      server.notify();
      const c2 = await ads.next();
      ads.send({ type_url: TYPE.cluster, version_info: c.version_info, response_nonce: c2.nonce, resource_names: ['*'], error_detail: { code: 3, message: 'no' } });
      const cl = await until('NACKED', () => {
        const t = st().types.find((x) => x.typeUrl === TYPE.cluster);
        return t?.status === 'NACKED' ? t : undefined;
      });
      assert.equal(cl.ackedVersion, c.version_info);
      assert.equal(cl.sentVersion, c2.version_info);
      assert.equal(cl.lastNack?.code, 3);
      assert.equal(st().node.cluster, 'c');
      ads.close();
      await until('gone', () => !server.status().some((p) => p.node.id === 'node-status'));
    } finally {
      source.set(TYPE.cluster, 'c5', undefined);
      ads.close();
    }
  });

  void test('a resource that cannot be encoded is skipped and reported; the rest is served and the last good copy kept', async () => {
    const ads = new RawAds(port());
    try {
      ads.send({ type_url: TYPE.cluster, resource_names: ['*'], node: { ...NODE, id: 'node-bad' } });
      const c = await ads.next();
      ads.ack(c, ['*']);
      source.set(TYPE.cluster, 'c1', { ...edsCluster('c1'), transport_socket: { name: 'x', typed_config: { '@type': 'type.googleapis.com/no.such.Type' } } });
      source.set(TYPE.cluster, 'c6', { ...edsCluster('c6'), connect_timeout: 'five seconds' });
      source.set(TYPE.cluster, 'c7', edsCluster('c7'));
      server.notify();
      const c2 = await ads.next();
      assert.deepEqual(c2.names.sort(), ['c1', 'c2', 'c7'], 'c1 keeps its last good copy, c6 is skipped');
      const t = server.status().find((p) => p.node.id === 'node-bad')!.types.find((x) => x.typeUrl === TYPE.cluster)!;
      assert.deepEqual(t.encodeErrors.map((e) => e.name).sort(), ['c1', 'c6']);
      assert.match(t.encodeErrors.find((e) => e.name === 'c1')!.error, /not loaded/);
    } finally {
      source.set(TYPE.cluster, 'c1', edsCluster('c1'));
      source.set(TYPE.cluster, 'c6', undefined);
      source.set(TYPE.cluster, 'c7', undefined);
      ads.close();
    }
  });
});

void describe('failures and timing', () => {
  void test('a throwing source is reported in status and does not break the stream; it recovers on the next notify', async () => {
    const source = new MemorySource();
    source.set(TYPE.cluster, 'c1', edsCluster('c1'));
    let fail = true;
    const server = createXdsServer({
      resources: (node, typeUrl, names) => {
        if (fail && typeUrl === TYPE.cluster) throw new Error('translation exploded');
        return source.resources(node, typeUrl, names);
      },
    }, { debounceMs: 5 });
    const { port } = await server.listen('127.0.0.1:0');
    const ads = new RawAds(port);
    try {
      ads.send({ type_url: TYPE.cluster, resource_names: ['*'], node: { ...NODE, id: 'node-throw' } });
      const st = () => server.status().find((p) => p.node.id === 'node-throw')?.types[0];
      await until('source error', () => st()?.sourceError === 'translation exploded');
      assert.equal(st()!.status, 'NOT SENT');
      fail = false;
      server.notify();
      const r = await ads.next();
      assert.deepEqual(r.names, ['c1']);
      assert.equal(st()!.sourceError, undefined);
    } finally {
      ads.close();
      await server.close();
    }
  });

  void test('notify() keeps being called: pushes still happen within maxDelayMs', async () => {
    const source = new MemorySource();
    source.set(TYPE.cluster, 'c1', edsCluster('c1'));
    const server = createXdsServer(source, { debounceMs: 50, maxDelayMs: 100 });
    const { port } = await server.listen('127.0.0.1:0');
    const ads = new RawAds(port);
    try {
      ads.send({ type_url: TYPE.cluster, resource_names: ['*'], node: { ...NODE, id: 'node-maxdelay' } });
      ads.ack(await ads.next(), ['*']);
      const started = Date.now();
      let i = 0;
      // A notification every 10 ms never leaves 50 ms of quiet; only the max delay lets a push out.
      const timer = setInterval(() => {
        source.set(TYPE.cluster, 'c1', { ...edsCluster('c1'), connect_timeout: { seconds: ++i } });
        server.notify();
      }, 10);
      try {
        await ads.next(2000);
        assert.ok(Date.now() - started < 1000, 'pushed long before the notifications stopped');
      } finally {
        clearInterval(timer);
      }
    } finally {
      ads.close();
      await server.close();
    }
  });
});
