// Streams that get the very same Map from the source share its encoding, version and response
// bytes (nonce included); each still has its own ACK state and its own change detection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createXdsServer } from '../../src/xds/server.js';
import { TYPE } from '../../src/xds/protos.js';
import { MemorySource, RawAds, until, edsCluster } from './helpers.js';

void test('identical proxies share one computation but keep their own nonces and state', async () => {
  const source = new MemorySource();
  source.set(TYPE.cluster, 'c1', edsCluster('c1'));
  source.set(TYPE.cluster, 'c2', edsCluster('c2'));
  const server = createXdsServer(source, { debounceMs: 5, controlPlaneId: undefined });
  const { port } = await server.listen('127.0.0.1:0');
  const a = new RawAds(port);
  const b = new RawAds(port);
  try {
    a.send({ type_url: TYPE.cluster, resource_names: ['*'], node: { id: 'twin-a', locality: {} } });
    const a1 = await a.next();
    a.ack(a1, ['*']);
    b.send({ type_url: TYPE.cluster, resource_names: ['*'], node: { id: 'twin-b', locality: {} } });
    const b1 = await b.next();
    assert.equal(b1.version_info, a1.version_info);
    assert.deepEqual(b1.names.sort(), ['c1', 'c2']);
    // b does not ACK: its state stays STALE while a is SYNCED.
    await until('a synced', () => server.status().find((p) => p.node.id === 'twin-a')?.types[0].status === 'SYNCED');
    assert.equal(server.status().find((p) => p.node.id === 'twin-b')?.types[0].status, 'STALE');
    source.set(TYPE.cluster, 'c3', edsCluster('c3'));
    server.notify();
    const [a2, b2] = [await a.next(), await b.next()];
    assert.equal(a2.version_info, b2.version_info);
    assert.notEqual(a2.version_info, a1.version_info);
    assert.deepEqual(a2.names.sort(), ['c1', 'c2', 'c3']);
    assert.deepEqual(b2.names.sort(), ['c1', 'c2', 'c3']);
    // A notify without a change sends nothing to either; a later change reaches both (marker).
    const calls = source.calls;
    server.notify();
    await until('both recomputed', () => source.calls >= calls + 2);
    source.set(TYPE.cluster, 'c1', undefined);
    server.notify();
    const [a3, b3] = [await a.next(), await b.next()];
    assert.deepEqual(a3.names.sort(), ['c2', 'c3']);
    assert.deepEqual(b3.names.sort(), ['c2', 'c3']);
  } finally {
    a.close();
    b.close();
    await server.close();
  }
});
