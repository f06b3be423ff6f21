import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSnapshot } from '../registry/index.js';
import type { Resource, Workload } from '../model/index.js';
import { TYPE } from '../xds/protos.js';
import { VIRTUAL_HOST_URL } from '../xds/codec.js';
import { SnapshotSource } from './xds-source.js';
import { VHDS_METADATA } from './proxies.js';

type Obj = Record<string, unknown>;
const svc = (name: string): Resource => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 9080 }] } });
const vs = (name: string, prefix: string): Resource => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: 'default' },
  spec: { hosts: [name], http: [{ match: [{ uri: { prefix } }], route: [{ destination: { host: name } }] }] } });
const workloads: Workload[] = ['a', 'b'].map((n, i) => ({ name: n, namespace: 'default', address: `127.0.9.${i + 1}`, labels: { app: n }, serviceAccount: 'default', ports: { http: 9080 } }));
const node = (vhds: boolean) => ({ id: 'sidecar~127.0.9.1~a.default~default.svc.cluster.local', metadata: { NAMESPACE: 'default', ...(vhds ? { [VHDS_METADATA]: 'true' } : {}) } });

void test('a VHDS node gets route configs without virtual hosts (vhds over ADS) and each host as <route config>/<host>; others get whole route configs', () => {
  const src = new SnapshotSource(createSnapshot('1', [svc('a'), svc('b'), vs('b', '/v1')], workloads), () => undefined);
  const plain = src.resources(node(false), TYPE.route, ['9080']);
  const whole = plain.get('9080') as Obj;
  const hosts = whole.virtual_hosts as Obj[];
  assert.ok(hosts.length >= 2);
  const vhdsNode = { ...node(true), id: 'sidecar~127.0.9.2~b.default~default.svc.cluster.local' };
  const rc = (src.resources(vhdsNode, TYPE.route, ['9080'])).get('9080') as Obj;
  assert.equal(rc.virtual_hosts, undefined);
  assert.deepEqual(rc.vhds, { config_source: { ads: {}, resource_api_version: 'V3' } });
  assert.deepEqual(rc.validate_clusters, whole.validate_clusters);
  const vh = src.resources(vhdsNode, VIRTUAL_HOST_URL, ['9080']);
  assert.deepEqual([...vh.keys()], hosts.map((h) => `9080/${String(h.name)}`), 'every host, in the route config order');
  for (const h of hosts) assert.deepEqual(vh.get(`9080/${String(h.name)}`), { ...h, name: `9080/${String(h.name)}` });
  assert.equal((src.resources(vhdsNode, VIRTUAL_HOST_URL, ['nope'])).size, 0);
});

void test('VHDS: a VirtualService change changes its host only; the route config without hosts stays the same object', () => {
  const src = new SnapshotSource(createSnapshot('1', [svc('a'), svc('b'), vs('b', '/v1')], workloads), () => undefined);
  const n = node(true);
  const before = src.resources(n, VIRTUAL_HOST_URL, ['9080']);
  const rcBefore = (src.resources(n, TYPE.route, ['9080'])).get('9080');
  src.setSnapshot(createSnapshot('2', [svc('a'), svc('b'), vs('b', '/v2')], workloads));
  const after = src.resources(n, VIRTUAL_HOST_URL, ['9080']);
  assert.equal((src.resources(n, TYPE.route, ['9080'])).get('9080'), rcBefore, 'the route config without hosts did not change');
  const changed = [...after].filter(([k, v]) => JSON.stringify(before.get(k)) !== JSON.stringify(v)).map(([k]) => k);
  assert.equal(changed.length, 1);
  assert.match(changed[0], /^9080\/b\b/);
});
