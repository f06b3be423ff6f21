// Upstream failures map to Envoy's status codes and response flags, recorded in the access log.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { type AccessLogEntry, Proxy } from '../../src/proxy/index.js';
import { close, hcm, listen, listener, map, mustUpdate, request, staticCluster, waitFor } from './helpers.js';

const ADDR = '127.0.10.8';

void describe('proxy upstream errors and access log', () => {
  let proxy: Proxy;
  let upstream: http.Server;
  let bad: http.Server;
  let port = 0;
  const log: AccessLogEntry[] = [];

  before(async () => {
    upstream = http.createServer((req, res) => {
      if (req.url === '/slow') setTimeout(() => res.end('late'), 1000).unref();
      else if (req.url === '/reset') req.socket.destroy();
      else if (req.url === '/midbody') {
        res.writeHead(200, { 'content-length': 100 });
        res.write('partial');
        setTimeout(() => req.socket.destroy(), 20);
      } else res.end('ok');
    });
    const up = await listen(upstream);
    bad = http.createServer((_req, res) => res.writeHead(503).end('bad'));
    const badPort = await listen(bad);
    const dead = http.createServer();
    const deadPort = await listen(dead);
    await close(dead);
    proxy = new Proxy({ nodeId: 'errors', address: ADDR, adminPort: 0, accessLog: (e) => log.push(e) });
    await proxy.start();
    mustUpdate(proxy, 'cluster', map([staticCluster('app', [['127.0.0.1', up]]), staticCluster('none', []), staticCluster('mixed', [['127.0.0.1', up], ['127.0.0.1', badPort]], { circuit_breakers: { thresholds: [{ max_retries: 100 }] } }), staticCluster('h2dead', [['127.0.0.1', deadPort]], { http2_protocol_options: {} })]));
    // As Istio sends: retries avoid the hosts already tried.
    const AVOID = { retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts' }], host_selection_retry_max_attempts: 5 };
    const rc = { name: 'in', virtual_hosts: [{ name: 'in', domains: ['*'], routes: [
      { name: 'slow', match: { prefix: '/slow' }, route: { cluster: 'app', timeout: '0.2s' } },
      { match: { prefix: '/none' }, route: { cluster: 'none' } },
      { match: { prefix: '/retry5xx' }, route: { cluster: 'mixed', retry_policy: { retry_on: '5xx', num_retries: 2, ...AVOID } } },
      { match: { prefix: '/retrycodes' }, route: { cluster: 'mixed', retry_policy: { retry_on: 'retriable-status-codes', retriable_status_codes: [503], num_retries: 2, ...AVOID } } },
      { match: { prefix: '/noretry' }, route: { cluster: 'mixed' } },
      { match: { prefix: '/h2dead' }, route: { cluster: 'h2dead' } },
      { match: { prefix: '/' }, route: { cluster: 'app', timeout: '0s' } },
    ] }] };
    mustUpdate(proxy, 'listener', map([listener('in', ADDR, 0, hcm('in', { inline: rc }))]));
    await proxy.settled();
    port = proxy.listenerPort('in')!;
  });

  after(async () => {
    await proxy.close();
    await close(upstream);
    await close(bad);
  });

  const last = async (path: string): Promise<AccessLogEntry> => {
    await waitFor(() => log.some((e) => e.path === path), `access log for ${path}`);
    return log.filter((e) => e.path === path).pop()!;
  };

  void it('times out with 504 UT', async () => {
    const r = await request({ host: ADDR, port, path: '/slow', agent: false });
    assert.equal(r.status, 504);
    assert.equal(r.body, 'upstream request timeout');
    const e = await last('/slow');
    assert.equal(e.responseFlags, 'UT');
    assert.equal(e.routeName, 'slow');
    assert.equal(e.upstreamCluster, 'app');
  });

  void it('retries 5xx responses on another endpoint under retry_on 5xx and retriable-status-codes', async () => {
    for (const path of ['/retry5xx', '/retrycodes']) {
      const codes = await Promise.all(Array.from({ length: 20 }, () => request({ host: ADDR, port, path }).then((r) => r.status)));
      assert.deepEqual(new Set(codes), new Set([200]), path);
    }
    const plain = await Promise.all(Array.from({ length: 20 }, () => request({ host: ADDR, port, path: '/noretry' }).then((r) => r.status)));
    assert.ok(plain.includes(503), 'without a retry policy the bad endpoint shows');
  });

  void it('answers 503 UH with no endpoints and 503 UC when the upstream resets before headers', async () => {
    assert.equal((await request({ host: ADDR, port, path: '/none', agent: false })).status, 503);
    assert.equal((await last('/none')).responseFlags, 'UH');
    const r = await request({ host: ADDR, port, path: '/reset', agent: false });
    assert.equal(r.status, 503);
    assert.match(r.body, /reset reason: connection termination/);
    assert.equal((await last('/reset')).responseFlags, 'UC');
  });

  void it('answers 503 UF when an h2c upstream refuses connections', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await request({ host: ADDR, port, path: '/h2dead', agent: false });
      assert.equal(r.status, 503);
      assert.match(r.body, /reset reason: connection failure/);
    }
    assert.equal((await last('/h2dead')).responseFlags, 'UF');
  });

  void it('resets the downstream when the upstream dies mid-body (UR)', async () => {
    await assert.rejects(request({ host: ADDR, port, path: '/midbody', agent: false }));
    const e = await last('/midbody');
    assert.equal(e.responseFlags, 'UR');
    assert.equal(e.completed, false);
    assert.equal((await request({ host: ADDR, port, path: '/ok', agent: false })).status, 200);
  });

  void it('survives h2 header bytes that HTTP/1.1 forbids', async () => {
    const session = http2.connect(`http://${ADDR}:${port}`);
    session.on('error', () => {});
    const status = await new Promise<number>((resolve) => {
      const st = session.request({ ':path': '/ok', 'x-odd': 'a\x01b' });
      st.on('response', (h) => resolve(Number(h[':status'])));
      st.on('error', () => resolve(-1));
      st.resume();
    });
    session.close();
    // Either forwarded (node accepted the bytes) or refused with 400: never a crash or a hang.
    assert.ok(status === 200 || status === 400, `status ${status}`);
    assert.equal((await request({ host: ADDR, port, path: '/ok', agent: false })).status, 200);
    const ok = await last('/ok');
    assert.equal(ok.responseCode, 200);
    assert.equal(ok.responseFlags, '-');
    assert.match(ok.requestId, /^[0-9a-f-]{36}$/);
  });
});
