// Envoy's stream idle timeout in the sidecar (HCM stream_idle_timeout, default 5 min; a route's
// idle_timeout overrides it), against real sockets: a silent upstream -> 504 "stream timeout" (flag SI);
// an unfinished request body -> 408; a stall after response headers -> reset; a response that keeps
// trickling is never cut; a route's longer idle_timeout wins over the HCM's.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AccessLogEntry } from '../../src/proxy/env.js';
import { Proxy } from '../../src/proxy/index.js';
import { close, hcm, listen, listener, map, mustUpdate, staticCluster } from '../proxy/helpers.js';

const ADDR = '127.0.99.1';

void describe('stream idle timeout', () => {
  let proxy: Proxy;
  let port = 0;
  let upstream: http.Server;
  const log: AccessLogEntry[] = [];

  before(async () => {
    upstream = http.createServer((req, res) => {
      if (req.url === '/hang') return; // never answers
      if (req.url === '/stall') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first chunk');
        return;
      }
      const every = req.url === '/trickle' ? 100 : 1500;
      const total = req.url === '/trickle' ? 2000 : 3000;
      res.writeHead(200, { 'content-type': 'text/plain' });
      const t = setInterval(() => res.write('.'), every);
      setTimeout(() => {
        clearInterval(t);
        res.end('done');
      }, total);
    });
    const up = await listen(upstream);
    proxy = new Proxy({ nodeId: 'idle', address: ADDR, adminPort: 0, accessLog: (e) => log.push(e) });
    await proxy.start();
    mustUpdate(proxy, 'cluster', map([staticCluster('up', [['127.0.0.1', up]])]));
    const route = (prefix: string, extra: Record<string, unknown> = {}) => ({ match: { prefix }, route: { cluster: 'up', timeout: { seconds: 0 }, ...extra } });
    mustUpdate(proxy, 'listener', map([listener('in', ADDR, 0, hcm('in', {
      inline: { name: 'r', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [route('/slow-trickle', { idle_timeout: '10s' }), route('/')] }] },
    }, { stream_idle_timeout: '1s' }))]));
    await proxy.settled();
    port = proxy.listenerPort('in') ?? 0;
  });

  after(async () => {
    upstream.closeAllConnections();
    await close(upstream);
    await proxy.close();
  });

  const get = (path: string, body?: { partial: string }): Promise<{ status: number; body: string; error?: string }> => new Promise((resolve) => {
    const req = http.request({ host: ADDR, port, path, method: body ? 'POST' : 'GET', agent: false, headers: body ? { 'content-length': '100' } : {} }, (res) => {
      let b = '';
      res.on('data', (c: Buffer) => (b += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      res.on('error', (e) => resolve({ status: res.statusCode ?? 0, body: b, error: e.message }));
      res.on('aborted', () => resolve({ status: res.statusCode ?? 0, body: b, error: 'aborted' }));
    });
    req.on('error', (e) => resolve({ status: 0, body: '', error: e.message }));
    if (body) req.write(body.partial);
    else req.end();
  });

  it('a complete request whose upstream stays silent gets 504 "stream timeout", flag SI', async () => {
    const r = await get('/hang');
    assert.equal(r.status, 504);
    assert.equal(r.body, 'stream timeout');
    assert.ok(log.some((e) => e.path === '/hang' && e.responseFlags === 'SI'), JSON.stringify(log.map((e) => [e.path, e.responseFlags])));
  });

  it('a request whose body stops arriving gets 408', async () => {
    const r = await get('/hang', { partial: 'only part of it' });
    assert.equal(r.status, 408);
  });

  it('after the response headers, a stall resets the stream', async () => {
    const r = await get('/stall');
    assert.equal(r.status, 200);
    assert.ok(r.error !== undefined || !r.body.endsWith('done'), 'the response was cut');
  });

  it('a response that keeps trickling is never cut; a route idle_timeout longer than the HCM one wins', async () => {
    const [a, b] = await Promise.all([get('/trickle'), get('/slow-trickle')]);
    assert.equal(a.status, 200);
    assert.ok(a.body.endsWith('done'), a.body);
    assert.equal(b.status, 200);
    assert.ok(b.body.endsWith('done'), b.body);
  });
});
