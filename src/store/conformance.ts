// The behaviour every ConfigStore must have. Each backend's test file calls runStoreConformance;
// a future etcd or Kubernetes store passes the same suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '../model/index.js';
import { StoreConflictError, StoreExistsError, StoreNotFoundError, type ConfigStore, type WatchEvent } from './types.js';

export interface ConformanceOptions {
  /** Closes `store` and opens the same backing data again; enables the persistence tests. */
  reopen?: (store: ConfigStore) => Promise<ConfigStore>;
}

export function vs(name: string, spec: Record<string, unknown> = { hosts: [name] }, ns?: string, labels?: Record<string, string>): Resource {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name, ...(ns ? { namespace: ns } : {}), ...(labels ? { labels } : {}) },
    spec,
  };
}

function svc(name: string, ns: string): Resource {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { ports: [{ port: 80 }] } };
}

const ns = (name: string): Resource => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name }, spec: {} });

const vsKey = (name: string, namespace = 'default') => ({ kind: 'VirtualService', namespace, name });

export function runStoreConformance(name: string, makeStore: () => Promise<ConfigStore> | ConfigStore, opts: ConformanceOptions = {}): void {
  const withStore = (title: string, fn: (s: ConfigStore) => Promise<ConfigStore | void>): void => {
    void test(`${name}: ${title}`, async () => {
      let store = await makeStore();
      try {
        store = (await fn(store)) ?? store;
      } finally {
        await store.close();
      }
    });
  };

  withStore('a new store is empty at revision 0', async (s) => {
    assert.equal(s.revision(), '0');
    assert.equal(await s.get(vsKey('a')), undefined);
    assert.deepEqual(await s.list(), []);
  });

  withStore('put fills system metadata and defaults the namespace', async (s) => {
    const [stored] = await s.apply([{ op: 'put', resource: vs('a') }]);
    assert.equal(stored.metadata.namespace, 'default');
    assert.equal(stored.metadata.resourceVersion, '1');
    assert.equal(stored.metadata.generation, 1);
    assert.match(stored.metadata.uid ?? '', /^[0-9a-f-]{36}$/);
    assert.match(stored.metadata.creationTimestamp ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(s.revision(), '1');
    assert.deepEqual(await s.get(vsKey('a')), stored);
    assert.equal(await s.get(vsKey('a', 'other')), undefined);
  });

  withStore('returned objects are frozen and shared, copy-free; the caller keeps its own input', async (s) => {
    const input = vs('a');
    const [stored] = await s.apply([{ op: 'put', resource: input }]);
    assert.throws(() => { (stored.spec as { hosts: string[] }).hosts.push('x'); }, TypeError, 'deep-frozen');
    (input.spec as { hosts: string[] }).hosts.push('y');
    const got = await s.get(vsKey('a'));
    assert.throws(() => { got!.metadata.name = 'z'; }, TypeError);
    assert.deepEqual((await s.get(vsKey('a')))!.spec, { hosts: ['a'] });
    assert.equal(await s.get(vsKey('a')), stored, 'no copy per read');
    const [other] = await s.apply([{ op: 'put', resource: vs('b') }]);
    assert.equal((await s.list()).find((r) => r.metadata.name === 'a'), stored, 'an unchanged resource keeps its identity');
    const listed = await s.list();
    listed.pop();
    assert.deepEqual((await s.list()).map((r) => r.metadata.name), ['a', 'b'], 'the list array is the caller\'s');
    const [b2] = await s.apply([{ op: 'put', resource: vs('b', { hosts: ['b2'] }) }]);
    assert.notEqual(b2, other);
    assert.deepEqual((await s.list()).map((r) => r.spec), [{ hosts: ['a'] }, { hosts: ['b2'] }], 'a modification is seen by the next list');
    const view = s.view?.();
    if (view) {
      assert.equal(view.resources[view.indexOf('VirtualService/default/b')], b2);
      assert.equal(view.indexOf('VirtualService/default/missing'), -1);
    }
  });

  withStore('generation follows spec only; labels change the version but not the generation', async (s) => {
    const [v1] = await s.apply([{ op: 'put', resource: vs('a', { hosts: ['a'] }) }]);
    const [v2] = await s.apply([{ op: 'put', resource: vs('a', { hosts: ['b'] }) }]);
    assert.equal(v2.metadata.generation, 2);
    assert.equal(v2.metadata.uid, v1.metadata.uid);
    assert.equal(v2.metadata.creationTimestamp, v1.metadata.creationTimestamp);
    assert.ok(Number(v2.metadata.resourceVersion) > Number(v1.metadata.resourceVersion));
    const [v3] = await s.apply([{ op: 'put', resource: vs('a', { hosts: ['b'] }, undefined, { app: 'x' }) }]);
    assert.equal(v3.metadata.generation, 2);
    assert.notEqual(v3.metadata.resourceVersion, v2.metadata.resourceVersion);
    assert.deepEqual(v3.metadata.labels, { app: 'x' });
  });

  withStore('an identical put is a no-op: same version, same revision, no watch event', async (s) => {
    const [v1] = await s.apply([{ op: 'put', resource: vs('a') }]);
    const events: WatchEvent[] = [];
    s.watch((e) => events.push(...e));
    const stale = { ...vs('a'), metadata: { ...vs('a').metadata, resourceVersion: '999', uid: 'ignored' } };
    const [v2] = await s.apply([{ op: 'put', resource: stale }]);
    assert.equal(v2.metadata.resourceVersion, v1.metadata.resourceVersion);
    assert.equal(v2.metadata.uid, v1.metadata.uid);
    assert.equal(s.revision(), v1.metadata.resourceVersion);
    assert.equal(events.length, 0);
  });

  withStore('mustCreate, expectResourceVersion and delete report 409/404 with typed errors', async (s) => {
    const [a] = await s.apply([{ op: 'put', resource: vs('a') }]);
    await assert.rejects(s.apply([{ op: 'put', resource: vs('a'), mustCreate: true }]), (e: unknown) => e instanceof StoreExistsError && e.code === 409);
    await assert.rejects(s.apply([{ op: 'put', resource: vs('a', { hosts: ['z'] }), expectResourceVersion: '12345' }]),
      (e: unknown) => e instanceof StoreConflictError && e.code === 409 && e.key?.name === 'a');
    await assert.rejects(s.apply([{ op: 'put', resource: vs('b'), expectResourceVersion: '1' }]), (e: unknown) => e instanceof StoreNotFoundError && e.code === 404);
    await assert.rejects(s.apply([{ op: 'delete', key: vsKey('missing') }]), (e: unknown) => e instanceof StoreNotFoundError);
    await assert.rejects(s.apply([{ op: 'delete', key: vsKey('a'), expectResourceVersion: '12345' }]), StoreConflictError);
    const [b] = await s.apply([{ op: 'put', resource: vs('a', { hosts: ['new'] }), expectResourceVersion: a.metadata.resourceVersion }]);
    assert.equal(b.metadata.generation, 2);
    const [gone] = await s.apply([{ op: 'delete', key: vsKey('a'), expectResourceVersion: b.metadata.resourceVersion }]);
    assert.deepEqual(gone, b);
    assert.equal(await s.get(vsKey('a')), undefined);
  });

  withStore('a failing batch applies nothing: no objects, no revision change, no events', async (s) => {
    await s.apply([{ op: 'put', resource: vs('keep') }]);
    const before = await s.list();
    const rev = s.revision();
    const events: WatchEvent[] = [];
    s.watch((e) => events.push(...e));
    await assert.rejects(s.apply([
      { op: 'put', resource: vs('new1') },
      { op: 'put', resource: vs('keep', { hosts: ['changed'] }) },
      { op: 'delete', key: vsKey('keep') },
      { op: 'delete', key: vsKey('missing') },
    ]), StoreNotFoundError);
    assert.deepEqual(await s.list(), before);
    assert.equal(s.revision(), rev);
    assert.equal(events.length, 0);
    // and the store still works afterwards
    await s.apply([{ op: 'put', resource: vs('new1') }]);
    assert.ok(await s.get(vsKey('new1')));
  });

  withStore('a batch shares one revision and each op sees the earlier ones', async (s) => {
    const out = await s.apply([
      { op: 'put', resource: vs('a'), mustCreate: true },
      { op: 'put', resource: vs('b', undefined, 'prod') },
      { op: 'put', resource: vs('a', { hosts: ['a2'] }) },
      { op: 'put', resource: vs('tmp') },
      { op: 'delete', key: vsKey('tmp') },
    ]);
    assert.equal(out.length, 5);
    assert.equal(s.revision(), '1');
    assert.deepEqual(out.slice(0, 3).map((r) => r.metadata.resourceVersion), ['1', '1', '1']);
    assert.deepEqual((await s.get(vsKey('a')))!.spec, { hosts: ['a2'] });
    assert.equal(await s.get(vsKey('tmp')), undefined);
    await assert.rejects(s.apply([{ op: 'put', resource: vs('c') }, { op: 'put', resource: vs('c'), mustCreate: true }]), StoreExistsError);
    assert.equal(await s.get(vsKey('c')), undefined);
  });

  withStore('list filters by kind and namespace, sorted; cluster-scoped kinds have no namespace', async (s) => {
    await s.apply([
      { op: 'put', resource: vs('z', undefined, 'prod') }, { op: 'put', resource: vs('b') }, { op: 'put', resource: vs('a') },
      { op: 'put', resource: svc('web', 'prod') }, { op: 'put', resource: { ...ns('prod'), metadata: { name: 'prod', namespace: 'default' } } },
    ]);
    assert.deepEqual((await s.list({ kind: 'VirtualService' })).map((r) => `${r.metadata.namespace}/${r.metadata.name}`), ['default/a', 'default/b', 'prod/z']);
    assert.deepEqual((await s.list({ namespace: 'prod' })).map((r) => r.kind).sort(), ['Service', 'VirtualService']);
    assert.equal((await s.list()).length, 5);
    const n = await s.get({ kind: 'Namespace', namespace: '', name: 'prod' });
    assert.equal(n?.metadata.namespace, undefined);
    assert.ok(await s.get({ kind: 'Namespace', namespace: 'default', name: 'prod' }), 'namespace is ignored for cluster-scoped kinds');
    assert.equal((await s.list({ kind: 'Namespace' })).length, 1);
  });

  withStore('watch reports ADDED, MODIFIED and DELETED with the batch revision; unsubscribe stops it', async (s) => {
    const seen: { events: readonly WatchEvent[]; revision: string }[] = [];
    const stop = s.watch((events, revision) => seen.push({ events, revision }));
    await s.apply([{ op: 'put', resource: vs('a') }, { op: 'put', resource: vs('b') }]);
    await s.apply([{ op: 'put', resource: vs('a', { hosts: ['x'] }) }, { op: 'delete', key: vsKey('b') }]);
    assert.equal(seen.length, 2);
    assert.deepEqual(seen[0].events.map((e) => [e.type, e.resource.metadata.name, e.resourceVersion]), [['ADDED', 'a', '1'], ['ADDED', 'b', '1']]);
    assert.equal(seen[0].revision, '1');
    assert.deepEqual(seen[1].events.map((e) => [e.type, e.resource.metadata.name, e.resourceVersion]), [['MODIFIED', 'a', '2'], ['DELETED', 'b', '2']]);
    assert.deepEqual(seen[1].events[0].resource.spec, { hosts: ['x'] });
    assert.equal(seen[1].revision, '2');
    stop();
    await s.apply([{ op: 'put', resource: vs('c') }]);
    assert.equal(seen.length, 2);
  });

  withStore('concurrent applies are serialized: distinct revisions, exactly one conditional winner', async (s) => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.apply([{ op: 'put', resource: vs(`n${i}`), mustCreate: true }])));
    assert.deepEqual(results.map(([r]) => Number(r.metadata.resourceVersion)).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1));
    const rv = (await s.get(vsKey('n0')))!.metadata.resourceVersion;
    const racers = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => s.apply([{ op: 'put', resource: vs('n0', { hosts: [`r${i}`] }), expectResourceVersion: rv }])));
    assert.equal(racers.filter((r) => r.status === 'fulfilled').length, 1);
    assert.ok(racers.every((r) => r.status === 'fulfilled' || r.reason instanceof StoreConflictError));
  });

  void test(`${name}: applies submitted before close() complete; later ones are refused`, async () => {
    const s = await makeStore();
    const pending = s.apply([{ op: 'put', resource: vs('late') }]);
    const closing = s.close();
    const [stored] = await pending;
    assert.equal(stored.metadata.name, 'late');
    await closing;
    await assert.rejects(s.apply([{ op: 'put', resource: vs('after') }]), /closed/);
  });

  if (opts.reopen) {
    const reopen = opts.reopen;
    withStore('everything survives a restart and the revision continues', async (s) => {
      await s.apply([{ op: 'put', resource: vs('a', undefined, undefined, { v: '1' }) }, { op: 'put', resource: svc('web', 'prod') }, { op: 'put', resource: ns('prod') }]);
      await s.apply([{ op: 'put', resource: vs('a', { hosts: ['b'] }) }]);
      await s.apply([{ op: 'put', resource: vs('gone') }]);
      await s.apply([{ op: 'delete', key: vsKey('gone') }]);
      const before = await s.list();
      const rev = s.revision();
      const s2 = await reopen(s);
      assert.deepEqual(await s2.list(), before);
      assert.equal(s2.revision(), rev, 'a delete-only batch still counts after restart');
      const [next] = await s2.apply([{ op: 'put', resource: vs('c') }]);
      assert.equal(Number(next.metadata.resourceVersion), Number(rev) + 1);
      const [a] = await s2.apply([{ op: 'put', resource: vs('a', { hosts: ['c'] }) }]);
      assert.equal(a.metadata.generation, 3);
      return s2;
    });
  }
}
