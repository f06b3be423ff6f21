import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VhdsRoutes } from './vhds.js';

type Obj = Record<string, unknown>;
const rc = (name: string, vhds = true): Obj => ({ name, validate_clusters: { value: false }, ...(vhds ? { vhds: { config_source: { ads: {} } } } : { virtual_hosts: [] }) });
const vh = (rcName: string, host: string, cluster = 'c'): [string, Obj] =>
  [`${rcName}/${host}`, { name: `${rcName}/${host}`, domains: [host], routes: [{ match: { prefix: '/' }, route: { cluster } }] }];
const hostNames = (r: Obj | undefined): string[] => ((r?.virtual_hosts ?? []) as Obj[]).map((v) => String(v.name));

void test('a route config with vhds is held until VHDS answers, then assembled with the hosts named as RDS would name them', () => {
  const v = new VhdsRoutes();
  v.subscribe(['80']);
  assert.equal(v.onRoutes(new Map([['80', rc('80')]])).size, 0, 'held: its virtual hosts have not come yet');
  const r = v.onVirtualHosts(new Map([vh('80', 'a'), vh('80', 'b'), vh('other', 'x')]));
  const out = r.routes.get('80');
  assert.deepEqual(hostNames(out), ['a', 'b'], 'prefix stripped; a host of an unsubscribed route config ignored');
  assert.equal(out?.vhds, undefined);
  assert.deepEqual(out?.validate_clusters, { value: false });
  r.commit();
  // A change replaces its host in place; a removal drops it.
  const r2 = v.onVirtualHosts(new Map([vh('80', 'a', 'c2')]), ['80/b']);
  assert.deepEqual(hostNames(r2.routes.get('80')), ['a']);
  assert.equal((((r2.routes.get('80')?.virtual_hosts as Obj[])[0].routes as Obj[])[0].route as Obj).cluster, 'c2');
  r2.commit();
  // A new route config (RDS) after VHDS answered is assembled at once.
  assert.deepEqual(hostNames(v.onRoutes(new Map([['80', { ...rc('80'), request_headers_to_add: [] }]])).get('80')), ['a']);
});

void test('nothing is kept when the data plane refuses (no commit); a route config without vhds passes through', () => {
  const v = new VhdsRoutes();
  v.subscribe(['80', '90']);
  v.onRoutes(new Map([['80', rc('80')]]));
  v.onVirtualHosts(new Map([vh('80', 'a')])).commit();
  const refused = v.onVirtualHosts(new Map([vh('80', 'bad')]));
  assert.deepEqual(hostNames(refused.routes.get('80')), ['a', 'bad']);
  // not committed: the next change starts from the committed state
  assert.deepEqual(hostNames(v.onVirtualHosts(new Map([vh('80', 'c')])).routes.get('80')), ['a', 'c']);
  const plain = v.onRoutes(new Map([['90', rc('90', false)]]));
  assert.deepEqual(plain.get('90'), rc('90', false));
  assert.throws(() => v.onVirtualHosts(new Map([['noslash', {}]])), /not named <route config>\/<host>/);
});

void test('an empty VHDS answer releases a held route config with no hosts; unsubscribed route configs are forgotten', () => {
  const v = new VhdsRoutes();
  v.subscribe(['80']);
  v.onRoutes(new Map([['80', rc('80')]]));
  const r = v.onVirtualHosts(new Map());
  assert.deepEqual(hostNames(r.routes.get('80')), []);
  r.commit();
  v.subscribe([]);
  v.subscribe(['80']);
  assert.equal(v.onRoutes(new Map([['80', rc('80')]])).size, 0, 'subscribed again: held until answered again');
});
