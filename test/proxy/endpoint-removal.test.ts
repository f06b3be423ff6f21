// An endpoint that leaves its cluster (EDS update, workload gone) is drained as Envoy drains a removed
// host: no new requests go to it, and requests already in flight there still get their answer. Killing
// them instead turns every endpoint change under load into 503s the default retry policy cannot retry.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { Proxy } from '../../src/proxy/index.js';
import { cla, close, edsCluster, hcm, listen, listener, map, mustUpdate, request, routeTo, vhost, waitFor } from './helpers.js';

const ADDR = '127.0.10.23';
const CLUSTER = 'outbound|80||slow.default.svc.cluster.local';

void describe('an endpoint removed while a request is in flight there', { timeout: 60_000 }, () => {
  let proxy: Proxy;
  let slow: http.Server;
  let slowPort = 0;
  let other: http.Server;
  let otherPort = 0;
  let port = 0;
  const held: http.ServerResponse[] = [];
  const h2Servers: net.Server[] = [];
  const sessions: { destroy(): void }[] = [];

  before(async () => {
    // `slow` holds every request until the test releases it; `other` answers at once.
    slow = http.createServer((req, res) => { req.resume(); held.push(res); });
    other = http.createServer((req, res) => { req.resume(); res.end('other'); });
    slowPort = await listen(slow);
    otherPort = await listen(other);
    proxy = new Proxy({ nodeId: 'sidecar~127.0.10.23~client.default~default.svc.cluster.local', address: ADDR, adminPort: 0 });
    await proxy.start();
  });

  after(async () => {
    for (const r of held) r.destroy();
    await proxy.close();
    await close(slow);
    await close(other);
    for (const s of sessions) s.destroy();
    for (const s of h2Servers) await close(s);
  });

  for (const protocol of ['HTTP/1.1', 'HTTP/2'] as const) {
    void it(`${protocol}: the in-flight request is answered by the removed endpoint; new ones go to the rest`, async () => {
      const h2 = protocol === 'HTTP/2' ? { typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicit_http_config: { http2_protocol_options: {} } } } } : {};
      if (protocol === 'HTTP/2') {
        // Same handlers, served over h2c.
        const { default: http2 } = await import('node:http2');
        const s2 = http2.createServer((req, res) => { req.resume(); held.push(res as unknown as http.ServerResponse); });
        const o2 = http2.createServer((req, res) => { req.resume(); res.end('other'); });
        for (const s of [s2, o2]) s.on('session', (session) => sessions.push(session));
        h2Servers.push(s2, o2);
        slowPort = await listen(s2);
        otherPort = await listen(o2);
      }
      mustUpdate(proxy, 'cluster', map([edsCluster(CLUSTER, h2)]));
      mustUpdate(proxy, 'endpoint', map([cla(CLUSTER, [['127.0.0.1', slowPort]])], 'cluster_name'));
      mustUpdate(proxy, 'listener', map([listener('in', ADDR, 0, hcm('out', { inline: { name: 'r', virtual_hosts: [vhost('slow', ['*'], [routeTo(CLUSTER)])] } }))]));
      await waitFor(() => proxy.listenerPort('in') !== undefined, 'listener bound');
      port = proxy.listenerPort('in')!;
      const before = held.length;
      const inFlight = request({ host: ADDR, port, path: '/held', agent: false });
      await waitFor(() => held.length > before, 'the request held at the slow endpoint');

      mustUpdate(proxy, 'endpoint', map([cla(CLUSTER, [['127.0.0.1', otherPort]])], 'cluster_name'));
      const next = await request({ host: ADDR, port, path: '/next', agent: false });
      assert.equal(next.status, 200);
      assert.equal(next.body, 'other');

      held[held.length - 1].end('slow');
      const r = await inFlight;
      assert.equal(r.status, 200, `in-flight request: ${r.status} ${r.body}`);
      assert.equal(r.body, 'slow');
    });
  }
});
