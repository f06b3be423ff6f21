import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from './memory.js';
import { runStoreConformance, vs } from './conformance.js';

runStoreConformance('MemoryStore', () => new MemoryStore());

void test('MemoryStore: a throwing watch listener is reported and neither the apply nor other listeners suffer', async () => {
  const errors: unknown[] = [];
  const store = new MemoryStore({ onWatchError: (e) => errors.push(e) });
  let calls = 0;
  store.watch(() => { throw new Error('boom'); });
  store.watch(() => { calls++; });
  const [r] = await store.apply([{ op: 'put', resource: vs('a') }]);
  assert.equal(r.metadata.resourceVersion, '1');
  assert.equal(calls, 1);
  assert.equal((errors[0] as Error).message, 'boom');
  await store.close();
  await assert.rejects(store.apply([{ op: 'put', resource: vs('b') }]), /closed/);
});

void test('MemoryStore: a put without kind or name is refused with a clear message', async () => {
  const store = new MemoryStore();
  await assert.rejects(store.apply([{ op: 'put', resource: { apiVersion: 'v1', kind: 'Service', metadata: { name: '' }, spec: {} } }]), /Service needs metadata.name/);
  assert.equal(store.revision(), '0');
});
