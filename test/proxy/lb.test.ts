// Traffic distribution over real sockets: weighted clusters and load balancer policies.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Proxy } from '../../src/proxy/index.js';
import { cla, close, echoServer, edsCluster, listen, map, mustUpdate, outboundListeners, request, startProxy } from './helpers.js';

const ADDR = '127.0.10.6';

void describe('proxy traffic distribution', () => {
  let proxy: Proxy;
  const servers: http.Server[] = [];
  const eps: { port: number; hits: () => number }[] = [];
  let slowPort = 0;
  const held: http.ServerResponse[] = [];

  before(async () => {
    for (let i = 0; i < 3; i++) {
      const e = await echoServer(`ep${i}`);
      servers.push(e.server);
      eps.push(e);
    }
    const slow = http.createServer((_req, res) => held.push(res));
    slowPort = await listen(slow);
    servers.push(slow);
    proxy = await startProxy(ADDR);
    const three: [string, number][] = eps.map((e) => ['127.0.0.1', e.port]);
    mustUpdate(proxy, 'cluster', map([edsCluster('rr'), edsCluster('wrr'), edsCluster('random', { lb_policy: 'RANDOM' }), edsCluster('lr', { lb_policy: 'LEAST_REQUEST' }), edsCluster('v1'), edsCluster('v2')]));
    mustUpdate(proxy, 'endpoint', map([
      cla('rr', three), cla('random', three),
      cla('wrr', [['127.0.0.1', eps[0].port, 1], ['127.0.0.1', eps[1].port, 3]]),
      cla('lr', [['127.0.0.1', slowPort], ['127.0.0.1', eps[2].port]]),
      cla('v1', [['127.0.0.1', eps[0].port]]), cla('v2', [['127.0.0.1', eps[1].port]]),
    ], 'cluster_name'));
    mustUpdate(proxy, 'listener', outboundListeners(ADDR, [80]));
    const r = (prefix: string, cluster: string): object => ({ match: { prefix }, route: { cluster, timeout: '0s' } });
    mustUpdate(proxy, 'route', map([{ name: '80', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [
      r('/rr', 'rr'), r('/wrr', 'wrr'), r('/random', 'random'), r('/lr', 'lr'),
      { match: { prefix: '/split' }, route: { weighted_clusters: { clusters: [{ name: 'v1', weight: 80 }, { name: 'v2', weight: { value: 20 }, request_headers_to_add: [{ header: { key: 'x-subset', value: 'v2' } }] }] }, timeout: '0s' } },
    ] }] }]));
  });

  after(async () => {
    for (const res of held) res.end();
    await proxy.close();
    for (const s of servers) await close(s);
  });

  async function tally(path: string, n: number): Promise<Record<string, number>> {
    const c: Record<string, number> = {};
    for (let i = 0; i < n; i += 20) {
      const batch = await Promise.all(Array.from({ length: Math.min(20, n - i) }, () => request({ host: ADDR, port: 15001, path: `http://svc${path}` })));
      for (const b of batch) {
        assert.equal(b.status, 200);
        const name = String(b.json().name);
        c[name] = (c[name] ?? 0) + 1;
      }
    }
    return c;
  }

  void it('splits weighted clusters 80/20 over 1000 requests (within 5%) with per-cluster headers', async () => {
    const c = await tally('/split', 1000);
    assert.ok(Math.abs(c.ep0 - 800) <= 50, JSON.stringify(c));
    assert.ok(Math.abs(c.ep1 - 200) <= 50, JSON.stringify(c));
    const v2 = await request({ host: ADDR, port: 15001, path: 'http://svc/split', headers: {} });
    if (v2.json().name === 'ep1') assert.equal(v2.json<{ headers: Record<string, string> }>().headers['x-subset'], 'v2');
  });

  void it('round robin spreads evenly; weighted round robin follows weights', async () => {
    assert.deepEqual(await tally('/rr', 300), { ep0: 100, ep1: 100, ep2: 100 });
    const w = await tally('/wrr', 400);
    assert.deepEqual(w, { ep0: 100, ep1: 300 });
  });

  void it('random spreads roughly evenly', async () => {
    const c = await tally('/random', 600);
    for (const k of ['ep0', 'ep1', 'ep2']) assert.ok(Math.abs(c[k] - 200) < 70, JSON.stringify(c));
  });

  void it('least request avoids the endpoint holding a request', async () => {
    // Park one request on the slow endpoint; sequential requests then always go to the idle one.
    const parked: Promise<unknown>[] = [];
    const deadline = Date.now() + 5000;
    while (held.length < 1 && Date.now() < deadline) {
      parked.push(request({ host: ADDR, port: 15001, path: 'http://svc/lr', agent: false }).catch(() => undefined));
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(held.length >= 1);
    const c: Record<string, number> = {};
    for (let i = 0; i < 100; i++) {
      const name = String((await request({ host: ADDR, port: 15001, path: 'http://svc/lr' })).json().name);
      c[name] = (c[name] ?? 0) + 1;
    }
    assert.deepEqual(c, { ep2: 100 });
    for (const res of held.splice(0)) res.end('{"name":"slow"}');
    await Promise.all(parked);
  });
});
