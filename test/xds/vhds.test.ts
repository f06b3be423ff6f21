// VHDS over Delta ADS: VirtualHost resources subscribed by namespace (route config name), as
// Envoy's VhdsSubscription does; alike streams get one shared encoded response.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createXdsServer } from '../../src/xds/server.js';
import { VIRTUAL_HOST_URL } from '../../src/xds/codec.js';
import { unpackAny } from '../../src/xds/protos.js';
import type { ResourceSource } from '../../src/xds/types.js';
import { RawDelta, until } from './helpers.js';

const vhost = (name: string, cluster: string): object => ({ name, domains: [name.split('/').pop()!], routes: [{ match: { prefix: '/' }, route: { cluster } }] });

/** Every virtual host of every route config, whatever was asked (the server must filter by namespace), or only those asked. */
let hosts = new Map<string, object>([['80/a', vhost('80/a', 'x')], ['80/b', vhost('80/b', 'x')], ['http.8080/a', vhost('http.8080/a', 'x')]]);
let onlyAsked = false;
const asked = new WeakMap<object, Map<string, object>>();
const source: ResourceSource = { resources: (_node, typeUrl, names) => {
  if (typeUrl !== VIRTUAL_HOST_URL) return new Map();
  if (!onlyAsked || names === '*') return hosts;
  let m = asked.get(hosts); // the same Map for the same content: what lets streams share
  if (!m) asked.set(hosts, (m = new Map([...hosts].filter(([n]) => names.includes(n.slice(0, n.lastIndexOf('/')))))));
  return m;
} };
const server = createXdsServer(source, { debounceMs: 5, clusterAckWaitMs: 0 });
let port = 0;
before(async () => {
  port = (await server.listen('127.0.0.1:0')).port;
});
after(() => server.close());

void test('vhds: subscribing to a route config name gets the virtual hosts named <it>/..., only those; a change sends the changed one', async () => {
  const ads = new RawDelta(port, VIRTUAL_HOST_URL);
  try {
    ads.send({ node: { id: 'vhds-1', locality: {} }, resource_names_subscribe: ['80'] });
    const r1 = await ads.next();
    assert.deepEqual(r1.names, ['80/a', '80/b']);
    assert.deepEqual(r1.removed_resources, [], 'a namespace is not reported as a missing resource');
    assert.equal(unpackAny(r1.resources[0].resource).name, r1.resources[0].name);
    ads.send({ response_nonce: r1.nonce });
    hosts = new Map(hosts).set('80/b', vhost('80/b', 'y'));
    server.notify();
    const r2 = await ads.next();
    assert.deepEqual(r2.names, ['80/b']);
    ads.send({ response_nonce: r2.nonce });
    const next = new Map(hosts);
    next.delete('80/a');
    hosts = next;
    server.notify();
    const r3 = await ads.next();
    assert.deepEqual(r3.names, []);
    assert.deepEqual(r3.removed_resources, ['80/a']);
    // Unsubscribing the namespace drops its hosts: subscribing again resends them.
    ads.send({ response_nonce: r3.nonce, resource_names_unsubscribe: ['80'] });
    ads.send({ response_nonce: r3.nonce, resource_names_subscribe: ['80'] });
    const r4 = await ads.next();
    assert.deepEqual(r4.names, ['80/b']);
  } finally {
    hosts = new Map([['80/a', vhost('80/a', 'x')], ['80/b', vhost('80/b', 'x')], ['http.8080/a', vhost('http.8080/a', 'x')]]);
    ads.close();
  }
});

void test('vhds: a newly subscribed route config with no virtual host gets an empty response (the client knows it has all)', async () => {
  const ads = new RawDelta(port, VIRTUAL_HOST_URL);
  try {
    ads.send({ node: { id: 'vhds-2', locality: {} }, resource_names_subscribe: ['9999'] });
    const r1 = await ads.next();
    assert.deepEqual(r1.names, []);
    assert.deepEqual(r1.removed_resources, []);
  } finally {
    ads.close();
  }
});

void test('vhds: alike streams get one shared response per change (same bytes, shared nonce), each ACKed on its own', async () => {
  const a = new RawDelta(port, VIRTUAL_HOST_URL);
  const b = new RawDelta(port, VIRTUAL_HOST_URL);
  onlyAsked = true;
  try {
    a.send({ node: { id: 'vhds-a', locality: {} }, resource_names_subscribe: ['80'] });
    b.send({ node: { id: 'vhds-b', locality: {} }, resource_names_subscribe: ['80'] });
    const [ra, rb] = [await a.next(), await b.next()];
    assert.deepEqual(ra.names, ['80/a', '80/b']);
    assert.equal(ra.nonce, rb.nonce);
    assert.match(ra.nonce, /^s\d+$/);
    a.send({ response_nonce: ra.nonce });
    b.send({ response_nonce: rb.nonce });
    const synced = (id: string) => server.status().find((p) => p.node.id === id)?.types[0].status === 'SYNCED';
    await until('both SYNCED', () => synced('vhds-a') && synced('vhds-b'));
    hosts = new Map(hosts).set('80/a', vhost('80/a', 'z'));
    server.notify();
    const [ra2, rb2] = [await a.next(), await b.next()];
    assert.deepEqual(ra2.names, ['80/a']);
    assert.equal(ra2.nonce, rb2.nonce);
    assert.notEqual(ra2.nonce, ra.nonce);
  } finally {
    onlyAsked = false;
    a.close();
    b.close();
  }
});
