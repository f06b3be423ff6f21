import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../store/memory.js';
import type { Resource } from '../model/index.js';
import { ConfigView } from './config-view.js';

const svc = (name: string, port: number): Resource => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { ports: [{ port }] } });
const names = (rs: Resource[]) => rs.map((r) => `${r.metadata.name}:${(r.spec as { ports: { port: number }[] }).ports[0].port}`).sort();

void test('ConfigView follows puts and deletes from watch events, and always equals a fresh listing', async () => {
  const store = new MemoryStore();
  const view = new ConfigView(store);
  await store.apply([{ op: 'put', resource: svc('a', 1) }]);
  assert.deepEqual(names(await view.list()), ['a:1']);
  await store.apply([{ op: 'put', resource: svc('b', 2) }, { op: 'put', resource: svc('a', 3) }]);
  assert.deepEqual(names(await view.list()), ['a:3', 'b:2']);
  await store.apply([{ op: 'delete', key: { kind: 'Service', namespace: 'default', name: 'a' } }]);
  assert.deepEqual(names(await view.list()), ['b:2']);
  // Changes made while a listing is awaited are not lost.
  const pending = view.list();
  await store.apply([{ op: 'put', resource: svc('c', 4) }]);
  await pending;
  assert.deepEqual(names(await view.list()), names(await store.list()));
  view.close();
  await store.apply([{ op: 'put', resource: svc('d', 5) }]);
  await store.close();
});
