// Hostile and malformed input never crashes the proxy or disturbs good traffic.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type http from 'node:http';
import type { Proxy } from '../../src/proxy/index.js';
import { close, echoServer, hcm, listener, map, mustUpdate, raw, request, startProxy, staticCluster, waitFor } from './helpers.js';

const ADDR = '127.0.10.2';

void describe('proxy hostile input', () => {
  let proxy: Proxy;
  let upstream: http.Server;
  let port = 0;

  before(async () => {
    const e = await echoServer('app');
    upstream = e.server;
    proxy = await startProxy(ADDR);
    mustUpdate(proxy, 'cluster', map([staticCluster('inbound|8080||', [['127.0.0.1', e.port]])]));
    const rc = { name: 'inbound|8080||', virtual_hosts: [{ name: 'inbound|http|8080', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'inbound|8080||', timeout: '0s' } }] }] };
    mustUpdate(proxy, 'listener', map([listener(`${ADDR}_8080`, ADDR, 0, hcm('inbound_0.0.0.0_8080', { inline: rc }), { traffic_direction: 'INBOUND' })]));
    await proxy.settled();
    port = proxy.listenerPort(`${ADDR}_8080`)!;
  });

  after(async () => {
    await proxy.close();
    await close(upstream);
  });

  const good = async (): Promise<void> => {
    const r = await request({ host: ADDR, port, path: '/ok', agent: false });
    assert.equal(r.status, 200);
  };

  const corpus: [string, string, RegExp][] = [
    ['CL and TE together', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', /^HTTP\/1\.1 400/],
    ['conflicting Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde', /^HTTP\/1\.1 400/],
    ['duplicate Content-Length list', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 5\r\n\r\nabcde', /^HTTP\/1\.1 400/],
    ['bad chunk size', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n', /^HTTP\/1\.1 400/],
    ['TE not ending in chunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n', /^HTTP\/1\.1 400/],
    ['obfuscated TE', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n', /^HTTP\/1\.1 400/],
    ['space in header name', 'GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n', /^HTTP\/1\.1 400/],
    ['negative Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n', /^HTTP\/1\.1 400/],
    ['garbage bytes', '\x00\x01\x02\xff\xfe garbage \r\n\r\n', /^HTTP\/1\.1 400/],
    ['bad version', 'GET / HTTP/9.9\r\nHost: a\r\n\r\n', /^HTTP\/1\.1 (400|505)/],
    ['HTTP/1.1 without Host', 'GET / HTTP/1.1\r\n\r\n', /^HTTP\/1\.1 400/],
    ['64 KB header', `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`, /^HTTP\/1\.1 431/],
  ];

  for (const [name, bytes, want] of corpus) {
    void it(`rejects ${name}, and good requests still succeed`, async () => {
      const out = await raw(ADDR, port, bytes);
      assert.match(out, want, `got ${JSON.stringify(out.slice(0, 80))}`);
      await good();
    });
  }

  void it('accepts HTTP/1.0 without Host and closes after the response', async () => {
    const out = await raw(ADDR, port, 'GET /ten HTTP/1.0\r\n\r\n');
    assert.match(out, /^HTTP\/1\.1 200/);
    assert.match(out, /"httpVersion":"1.1"/);
  });

  void it('serves pipelined keep-alive requests on one connection', async () => {
    const out = await raw(ADDR, port, 'GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    assert.equal(out.match(/HTTP\/1\.1 200/g)?.length, 2);
  });

  void it('keeps serving while slowloris connections dribble partial requests and others send random bytes', async () => {
    const slow: net.Socket[] = [];
    for (let i = 0; i < 20; i++) {
      const s = net.connect(port, ADDR);
      s.on('error', () => {});
      s.write('GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ');
      slow.push(s);
    }
    const junk = [];
    for (let i = 0; i < 20; i++) {
      const bytes = Buffer.alloc(200 + i * 50);
      for (let j = 0; j < bytes.length; j++) bytes[j] = (j * 7919 + i * 104729) % 256;
      junk.push(raw(ADDR, port, bytes, 500));
    }
    for (let i = 0; i < 30; i++) await good();
    await Promise.all(junk);
    for (const s of slow) s.destroy();
    await good();
  });

  void it('drops connections reset mid-request without affecting others', async () => {
    for (let i = 0; i < 10; i++) {
      const s = net.connect(port, ADDR);
      s.on('error', () => {});
      s.write('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\npartial');
      await new Promise((r) => setTimeout(r, 5));
      s.resetAndDestroy();
    }
    await good();
    // Every aborted request was cleaned up (no leaked in-flight request or upstream connection).
    await waitFor(() => proxy.stats()['http.inbound_0.0.0.0_8080.downstream_rq_active'] === 0, 'downstream_rq_active to drop to 0');
    await waitFor(() => proxy.stats()['cluster.inbound|8080||.upstream_rq_active'] === 0, 'upstream_rq_active to drop to 0');
  });
});
