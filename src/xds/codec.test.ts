// Resource encoding shortcuts must give exactly the bytes of encoding the whole object.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeResource } from './codec.js';
import { packAny, TYPE } from './protos.js';

const vhost = (i: number, weight: number) => ({
  name: `svc-${i}:9080`, domains: [`svc-${i}`, `svc-${i}:9080`],
  routes: [{ name: 'default', match: { prefix: '/' }, route: { weighted_clusters: { clusters: [
    { name: `outbound|9080|v1|svc-${i}`, weight: { value: weight } }, { name: `outbound|9080|v2|svc-${i}`, weight: { value: 100 - weight } }] },
  timeout: { seconds: '0', nanos: 0 } } }],
  typed_per_filter_config: { 'envoy.filters.http.fault': { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault', abort: { http_status: 503, percentage: { numerator: 10 } } } },
});

void test('a RouteConfiguration encoded from cached virtual hosts has the bytes of encoding it whole', () => {
  const vhosts = Array.from({ length: 20 }, (_, i) => vhost(i, 90));
  const rc = { name: '9080', virtual_hosts: vhosts, validate_clusters: { value: false }, request_headers_to_add: [{ header: { key: 'x', value: 'y' } }] };
  assert.deepEqual(Buffer.from(encodeResource(TYPE.route, rc).any.value), Buffer.from(packAny(TYPE.route, rc).value));
  // One virtual host replaced, the others reused from the cache: still the whole-object bytes.
  const next = { ...rc, virtual_hosts: vhosts.map((v, i) => (i === 3 ? vhost(3, 80) : v)) };
  const enc = encodeResource(TYPE.route, next);
  assert.deepEqual(Buffer.from(enc.any.value), Buffer.from(packAny(TYPE.route, next).value));
  assert.notEqual(enc.hash, encodeResource(TYPE.route, rc).hash);
  assert.equal(enc.name, '9080');
});

void test('route configs without virtual hosts or with bad ones encode, or fail, as before', () => {
  const empty = { name: 'empty' };
  assert.deepEqual(Buffer.from(encodeResource(TYPE.route, empty).any.value), Buffer.from(packAny(TYPE.route, empty).value));
  const badAny = { name: 'bad', virtual_hosts: [{ name: 'v', domains: ['*'], typed_per_filter_config: { f: { '@type': 'type.googleapis.com/no.such.Type' } } }] };
  assert.throws(() => encodeResource(TYPE.route, badAny), /no\.such\.Type/);
});
