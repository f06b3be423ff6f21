// The sidecar's resilience features in one process, each against real sockets: retries of requests
// with bodies, per-try timeouts, attempt-count headers, max_retries, gRPC retry conditions, CORS,
// gRPC fault aborts, cookie hash policy with a generated cookie, max_requests overflow.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Proxy } from '../../src/proxy/index.js';
import { close, hcm, listen, listener, map, mustUpdate, request } from '../proxy/helpers.js';

const ADDR = '127.0.30.1';
const FAULT = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
const CORS = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors';
const CORS_POLICY = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

function cluster(name: string, ports: number[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name, type: 'STATIC', connect_timeout: '1s',
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: ports.map((p) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p } } } })) }] },
    ...extra,
  };
}

void describe('resilience features of the sidecar', () => {
  let proxy: Proxy;
  let port = 0;
  const servers: http.Server[] = [];
  const bodies: string[] = [];
  let flakyHits = 0;
  let slowFirst = 0;

  before(async () => {
    // a: 503 on every other POST, records bodies; b: first call per test slow; g: gRPC unavailable then OK.
    const a = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => {
        bodies.push(body);
        if (req.url === '/flaky' && flakyHits++ % 2 === 0) return res.writeHead(503).end('no');
        if (req.url === '/grpc' && flakyHits++ % 2 === 0) return res.writeHead(200, { 'content-type': 'application/grpc', 'grpc-status': '14' }).end();
        if (req.url === '/slow' && slowFirst++ === 0) return void setTimeout(() => res.end('late'), 1500).unref();
        if (req.url === '/always503') return res.writeHead(503).end('no');
        if (req.url === '/hold') return void setTimeout(() => res.end('held'), 300).unref();
        res.writeHead(200, { 'x-attempt-seen': String(req.headers['x-envoy-attempt-count'] ?? '') }).end(`port=${(req.socket.localPort ?? 0)} len=${body.length}`);
      });
    });
    servers.push(a);
    const aPort = await listen(a);
    const b = http.createServer((_req, res) => res.end(`port=${b2}`));
    servers.push(b);
    const b2 = await listen(b);
    proxy = new Proxy({ nodeId: 'resilience', address: ADDR, adminPort: 0 });
    await proxy.start();
    mustUpdate(proxy, 'cluster', map([
      cluster('a', [aPort], { circuit_breakers: { thresholds: [{ max_retries: 100, max_requests: 3 }] } }),
      cluster('tight', [aPort], { circuit_breakers: { thresholds: [{ max_retries: 0 }] } }),
      cluster('ring', [aPort, b2], { lb_policy: 'RING_HASH' }),
    ]));
    const retry = (on: string, extra: Record<string, unknown> = {}) => ({ retry_policy: { retry_on: on, num_retries: 3, retry_back_off: { base_interval: '0.001s' }, ...extra } });
    const rc = { name: 'rc', virtual_hosts: [{ name: 'vh', domains: ['*'], include_request_attempt_count: true, include_attempt_count_in_response: true, routes: [
      { match: { prefix: '/flaky' }, route: { cluster: 'a', ...retry('5xx') } },
      { match: { prefix: '/grpc' }, route: { cluster: 'a', ...retry('unavailable') } },
      { match: { prefix: '/slow' }, route: { cluster: 'a', ...retry('5xx', { per_try_timeout: '0.3s' }) } },
      { match: { prefix: '/always503' }, route: { cluster: 'tight', ...retry('5xx') } },
      { match: { prefix: '/hold' }, route: { cluster: 'a', timeout: '5s' } },
      { match: { prefix: '/gt' }, route: { cluster: 'a', prefix_rewrite: '/hold', timeout: '5s', max_stream_duration: { grpc_timeout_header_max: '0s' } } },
      { match: { prefix: '/fault' }, route: { cluster: 'a' }, typed_per_filter_config: { 'envoy.filters.http.fault': { '@type': FAULT, abort: { grpc_status: 14, percentage: { numerator: 100 } } } } },
      { match: { prefix: '/cors' }, route: { cluster: 'a' }, typed_per_filter_config: { 'envoy.filters.http.cors': { '@type': CORS_POLICY, allow_origin_string_match: [{ exact: 'https://ok.example' }], allow_methods: 'GET,POST', allow_headers: 'x-a', max_age: '60', expose_headers: 'x-attempt-seen' } } },
      { match: { prefix: '/sticky' }, route: { cluster: 'ring', hash_policy: [{ cookie: { name: 'sticky', ttl: '3600s', path: '/' } }] } },
    ] }] };
    const filters = [
      { name: 'envoy.filters.http.cors', typed_config: { '@type': CORS } },
      { name: 'envoy.filters.http.fault', typed_config: { '@type': FAULT } },
      { name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } },
    ];
    mustUpdate(proxy, 'listener', map([listener('in', ADDR, 0, hcm('in', { inline: rc }, { http_filters: filters }))]));
    await proxy.settled();
    port = proxy.listenerPort('in')!;
  });

  after(async () => {
    await proxy.close();
    for (const s of servers) await close(s);
  });

  const stat = (name: string): number => proxy.stats()[name] ?? 0;

  void it('retries a POST with its body (buffered), sends x-envoy-attempt-count both ways', async () => {
    const r = await request({ host: ADDR, port, path: '/flaky', method: 'POST', body: 'x'.repeat(5000), headers: { 'content-type': 'text/plain' } });
    assert.equal(r.status, 200);
    assert.match(r.body, /len=5000$/);
    assert.equal(r.headers['x-envoy-attempt-count'], '2');
    assert.equal(r.headers['x-attempt-seen'], '2');
    assert.deepEqual(bodies.slice(-2).map((b) => b.length), [5000, 5000]);
    assert.equal(stat('cluster.a.upstream_rq_retry_success'), 1);
  });

  void it('a body over the buffer limit goes once, unretried', async () => {
    flakyHits = 0;
    const r = await request({ host: ADDR, port, path: '/flaky', method: 'POST', body: Buffer.alloc(1024 * 1024 + 10, 97) });
    assert.equal(r.status, 503);
    assert.equal(bodies.at(-1)!.length, 1024 * 1024 + 10);
  });

  void it('retries gRPC responses with grpc-status 14 under retry_on unavailable', async () => {
    flakyHits = 0;
    const r = await request({ host: ADDR, port, path: '/grpc' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['grpc-status'], undefined);
  });

  void it('per_try_timeout aborts the slow attempt and retries it', async () => {
    const t0 = performance.now();
    const r = await request({ host: ADDR, port, path: '/slow' });
    assert.equal(r.status, 200);
    assert.ok(performance.now() - t0 < 1200);
    assert.equal(stat('cluster.a.upstream_rq_per_try_timeout'), 1);
  });

  void it('max_retries 0 turns retries into upstream_rq_retry_overflow', async () => {
    const r = await request({ host: ADDR, port, path: '/always503' });
    assert.equal(r.status, 503);
    assert.equal(stat('cluster.tight.upstream_rq_retry_overflow'), 1);
    assert.equal(stat('cluster.tight.upstream_rq_total'), 1);
  });

  void it('max_requests: the fourth concurrent request overflows with 503 UO', async () => {
    const rs = await Promise.all(Array.from({ length: 4 }, () => request({ host: ADDR, port, path: '/hold', agent: false })));
    const codes = rs.map((r) => r.status).sort();
    assert.deepEqual(codes, [200, 200, 200, 503]);
    const uo = rs.find((r) => r.status === 503)!;
    assert.equal(uo.headers['x-envoy-overloaded'], 'true');
    assert.equal(stat('cluster.a.upstream_rq_pending_overflow'), 1);
  });

  void it('max_stream_duration.grpc_timeout_header_max: grpc-timeout sets the request timeout', async () => {
    const t0 = performance.now();
    const r = await request({ host: ADDR, port, path: '/gt', headers: { 'grpc-timeout': '100m' } });
    assert.equal(r.status, 504);
    assert.ok(performance.now() - t0 < 280);
    assert.equal((await request({ host: ADDR, port, path: '/gt' })).status, 200);
  });

  void it('fault abort with grpc_status answers a trailers-only gRPC error', async () => {
    const r = await request({ host: ADDR, port, path: '/fault' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['grpc-status'], '14');
    assert.equal(r.headers['content-type'], 'application/grpc');
    assert.equal(stat('http.in.fault.aborts_injected'), 1);
  });

  void it('CORS: preflight from an allowed origin answered here; simple requests get allow-origin; others nothing', async () => {
    const pre = await request({ host: ADDR, port, path: '/cors', method: 'OPTIONS', headers: { origin: 'https://ok.example', 'access-control-request-method': 'POST' } });
    assert.equal(pre.status, 200);
    assert.equal(pre.headers['access-control-allow-origin'], 'https://ok.example');
    assert.equal(pre.headers['access-control-allow-methods'], 'GET,POST');
    assert.equal(pre.headers['access-control-allow-headers'], 'x-a');
    assert.equal(pre.headers['access-control-max-age'], '60');
    const simple = await request({ host: ADDR, port, path: '/cors', headers: { origin: 'https://ok.example' } });
    assert.equal(simple.headers['access-control-allow-origin'], 'https://ok.example');
    assert.equal(simple.headers['access-control-expose-headers'], 'x-attempt-seen');
    const bad = await request({ host: ADDR, port, path: '/cors', headers: { origin: 'https://evil.example' } });
    assert.equal(bad.status, 200);
    assert.equal(bad.headers['access-control-allow-origin'], undefined);
    assert.equal(stat('http.in.cors.origin_valid'), 2);
    assert.equal(stat('http.in.cors.origin_invalid'), 1);
  });

  void it('cookie hash policy with a ttl: generates the cookie, then the cookie keeps one endpoint', async () => {
    const first = await request({ host: ADDR, port, path: '/sticky' });
    const set = String(first.headers['set-cookie']);
    assert.match(set, /^sticky="[0-9a-f]{16}"; Path=\/; Max-Age=3600; HttpOnly$/);
    const cookie = set.split(';')[0];
    const owners = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const r = await request({ host: ADDR, port, path: '/sticky', headers: { cookie } });
      assert.equal(r.headers['set-cookie'], undefined);
      owners.add(/port=(\d+)/.exec(r.body)![1]);
    }
    assert.equal(owners.size, 1);
  });
});
