// The server-wide send budget only orders writes: with a budget smaller than any response, every
// stream still gets everything, and a stream that goes away gives its share back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createXdsServer } from '../../src/xds/server.js';
import { TYPE } from '../../src/xds/protos.js';
import { MemorySource, RawAds, edsCluster } from './helpers.js';

void test('a 1-byte send budget: every stream is served in turn, and closed streams do not hold it', async () => {
  const source = new MemorySource();
  for (let i = 0; i < 50; i++) source.set(TYPE.cluster, `c${i}`, edsCluster(`c${i}`));
  const server = createXdsServer(source, { debounceMs: 5, sendBudgetBytes: 1 });
  const { port } = await server.listen('127.0.0.1:0');
  const streams = Array.from({ length: 6 }, () => new RawAds(port));
  try {
    streams.forEach((s, i) => s.send({ type_url: TYPE.cluster, resource_names: ['*'], node: { id: `budget-${i}`, locality: {} } }));
    // One proxy leaves before reading anything.
    streams[5].close();
    const first = await Promise.all(streams.slice(0, 5).map((s) => s.next()));
    for (const r of first) assert.equal(r.names.length, 50);
    first.forEach((r, i) => streams[i].ack(r, ['*']));
    source.set(TYPE.cluster, 'c50', edsCluster('c50'));
    server.notify();
    const second = await Promise.all(streams.slice(0, 5).map((s) => s.next()));
    for (const r of second) assert.equal(r.names.length, 51);
  } finally {
    for (const s of streams) s.close();
    await server.close();
  }
});
