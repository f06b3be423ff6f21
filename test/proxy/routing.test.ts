// Outbound HTTP proxying through virtualOutbound: virtual hosts, route matching, actions, errors.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import type { Proxy } from '../../src/proxy/index.js';
import { cla, close, echoServer, edsCluster, map, mustUpdate, outboundListeners, passthroughCluster, raw, request, routeTo, startProxy, vhost } from './helpers.js';

const ADDR = '127.0.10.1';

void describe('proxy routing (virtualOutbound)', () => {
  let proxy: Proxy;
  const servers: http.Server[] = [];
  const ports: Record<string, number> = {};
  let deadPort = 0;

  before(async () => {
    for (const n of ['reviews-v1', 'reviews-v2', 'ratings', 'other', 'wild', 'passthru']) {
      const e = await echoServer(n);
      servers.push(e.server);
      ports[n] = e.port;
    }
    const dead = await echoServer('dead');
    deadPort = dead.port;
    await close(dead.server);
    proxy = await startProxy(ADDR);
    const R = 'outbound|9080||reviews.default.svc.cluster.local';
    mustUpdate(proxy, 'cluster', map([
      edsCluster(R), edsCluster('outbound|9080|v2|reviews.default.svc.cluster.local'), edsCluster('outbound|9080||ratings.default.svc.cluster.local'),
      edsCluster('other'), edsCluster('wild'), edsCluster('empty'), edsCluster('dead'), passthroughCluster(),
    ]));
    mustUpdate(proxy, 'endpoint', map([
      cla(R, [['127.0.0.1', ports['reviews-v1']]]),
      cla('outbound|9080|v2|reviews.default.svc.cluster.local', [['127.0.0.1', ports['reviews-v2']]]),
      cla('outbound|9080||ratings.default.svc.cluster.local', [['127.0.0.1', ports.ratings]]),
      cla('other', [['127.0.0.1', ports.other]]),
      cla('wild', [['127.0.0.1', ports.wild]]),
      cla('empty', []),
      cla('dead', [['127.0.0.1', deadPort]]),
    ], 'cluster_name'));
    mustUpdate(proxy, 'listener', outboundListeners(ADDR, [9080]));
    const reviewsDomains = ['reviews', 'reviews:9080', 'reviews.default', 'reviews.default.svc.cluster.local', 'reviews.default.svc.cluster.local:9080'];
    mustUpdate(proxy, 'route', map([{
      name: '9080',
      request_headers_to_add: [{ header: { key: 'x-rc', value: 'rc' } }],
      response_headers_to_add: [{ header: { key: 'x-rc-resp', value: 'rc' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
      virtual_hosts: [
        vhost('reviews.default.svc.cluster.local:9080', reviewsDomains, [
          routeTo('outbound|9080|v2|reviews.default.svc.cluster.local', { prefix: '/', headers: [{ name: 'end-user', string_match: { exact: 'jason' } }] }),
          routeTo('outbound|9080|v2|reviews.default.svc.cluster.local', { path: '/exact' }),
          routeTo('outbound|9080|v2|reviews.default.svc.cluster.local', { safe_regex: { regex: '/re/[0-9]+' } }),
          routeTo('outbound|9080|v2|reviews.default.svc.cluster.local', { prefix: '/m', headers: [{ name: ':method', exact_match: 'DELETE' }] }),
          routeTo('outbound|9080|v2|reviews.default.svc.cluster.local', { prefix: '/q', query_parameters: [{ name: 'v', string_match: { exact: '2' } }] }),
          routeTo('outbound|9080|v2|reviews.default.svc.cluster.local', { path_separated_prefix: '/sep' }),
          routeTo('outbound|9080|v2|reviews.default.svc.cluster.local', { prefix: '/CASE', case_sensitive: false }),
          routeTo('outbound|9080|v2|reviews.default.svc.cluster.local', { prefix: '/inv', headers: [{ name: 'x-skip', present_match: true, invert_match: true }] }),
          { match: { prefix: '/direct' }, direct_response: { status: 418, body: { inline_string: 'teapot' } } },
          { match: { prefix: '/redir' }, redirect: { host_redirect: 'ratings', path_redirect: '/moved', response_code: 'FOUND' } },
          { match: { prefix: '/rewrite/' }, route: { cluster: R, prefix_rewrite: '/new/', timeout: '0s' } },
          { match: { prefix: '/hdr' }, route: { cluster: R, timeout: '0s' }, request_headers_to_add: [{ header: { key: 'x-route', value: 'r' } }, { header: { key: 'x-over', value: 'new' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }], request_headers_to_remove: ['x-drop'], response_headers_to_add: [{ header: { key: 'x-resp', value: 'yes' } }], response_headers_to_remove: ['x-upstream'] },
          routeTo('empty', { prefix: '/empty' }),
          routeTo('dead', { prefix: '/dead' }),
          routeTo('missing-cluster', { prefix: '/nc' }),
          routeTo(R, { prefix: '/' }),
        ], { request_headers_to_add: [{ header: { key: 'x-vh', value: 'vh' } }] }),
        vhost('ratings', ['ratings', 'ratings:9080'], [routeTo('outbound|9080||ratings.default.svc.cluster.local')]),
        vhost('wild-suffix', ['*.example.com'], [routeTo('wild')]),
        vhost('wild-suffix-longer', ['*.a.example.com'], [routeTo('other')]),
        vhost('wild-prefix', ['api.*'], [routeTo('other')]),
      ],
    }]));
  });

  after(async () => {
    await proxy.close();
    for (const s of servers) await close(s);
  });

  const via = (path: string, headers: http.OutgoingHttpHeaders = {}, method = 'GET'): Promise<Awaited<ReturnType<typeof request>>> =>
    request({ host: ADDR, port: 15001, path, headers, method });

  void it('routes absolute-form and origin-form requests by host', async () => {
    const a = await via('http://reviews:9080/x');
    assert.equal(a.status, 200);
    assert.equal(a.json().name, 'reviews-v1');
    assert.equal(a.json().url, '/x');
    const b = await via('/y', { host: 'ratings:9080' });
    assert.equal(b.json().name, 'ratings');
    const c = await via('http://reviews.default.svc.cluster.local:9080/');
    assert.equal(c.json().name, 'reviews-v1');
    assert.match(String(a.headers['x-envoy-upstream-service-time']), /^\d+$/);
    assert.equal(a.headers.server, 'envoy', 'server_header_transformation OVERWRITE, as the tutorials show');
  });

  void it('adds x-request-id, x-forwarded-for and x-forwarded-proto; keeps a given request id', async () => {
    const a = (await via('http://reviews:9080/')).json<{ headers: Record<string, string> }>().headers;
    assert.match(a['x-request-id'], /^[0-9a-f-]{36}$/);
    assert.equal(a['x-forwarded-for'], '127.0.0.1');
    assert.equal(a['x-forwarded-proto'], 'http');
    const b = (await via('http://reviews:9080/', { 'x-request-id': 'abc' })).json<{ headers: Record<string, string> }>().headers;
    assert.equal(b['x-request-id'], 'abc');
  });

  void it('matches headers, exact path, regex, method, query, separated prefix, case, invert', async () => {
    const name = async (path: string, h: http.OutgoingHttpHeaders = {}, m = 'GET'): Promise<unknown> => (await via(`http://reviews:9080${path}`, h, m)).json().name;
    assert.equal(await name('/any', { 'end-user': 'jason' }), 'reviews-v2');
    assert.equal(await name('/any', { 'end-user': 'other' }), 'reviews-v1');
    assert.equal(await name('/exact'), 'reviews-v2');
    assert.equal(await name('/exact/more'), 'reviews-v1');
    assert.equal(await name('/exact?x=1'), 'reviews-v2');
    assert.equal(await name('/re/123'), 'reviews-v2');
    assert.equal(await name('/re/12a'), 'reviews-v1');
    assert.equal(await name('/m', {}, 'DELETE'), 'reviews-v2');
    assert.equal(await name('/m', {}, 'GET'), 'reviews-v1');
    assert.equal(await name('/q?a=1&v=2'), 'reviews-v2');
    assert.equal(await name('/q?v=3'), 'reviews-v1');
    assert.equal(await name('/sep'), 'reviews-v2');
    assert.equal(await name('/sep/x'), 'reviews-v2');
    assert.equal(await name('/separate'), 'reviews-v1');
    assert.equal(await name('/case/x'), 'reviews-v2');
    assert.equal(await name('/inv'), 'reviews-v2');
    assert.equal(await name('/inv', { 'x-skip': '1' }), 'reviews-v1');
  });

  void it('selects wildcard virtual hosts longest suffix first, then prefix', async () => {
    assert.equal((await via('http://x.example.com:9080/')).json().name, 'wild');
    assert.equal((await via('http://x.a.example.com:9080/')).json().name, 'other');
    assert.equal((await via('http://api.anything:9080/')).json().name, 'other');
  });

  void it('answers direct responses and redirects', async () => {
    const d = await via('http://reviews:9080/direct');
    assert.equal(d.status, 418);
    assert.equal(d.body, 'teapot');
    const r = await via('http://reviews:9080/redir?a=1');
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, 'http://ratings/moved?a=1'); // host_redirect replaces host:port, as in Envoy
  });

  void it('rewrites prefixes and manipulates headers at every level', async () => {
    assert.equal((await via('http://reviews:9080/rewrite/a?b=1')).json().url, '/new/a?b=1');
    const r = await via('http://reviews:9080/hdr', { 'x-drop': '1', 'x-over': 'old' });
    const h = r.json<{ headers: Record<string, string> }>().headers;
    assert.equal(h['x-route'], 'r');
    assert.equal(h['x-vh'], 'vh');
    assert.equal(h['x-rc'], 'rc');
    assert.equal(h['x-over'], 'new');
    assert.equal(h['x-drop'], undefined);
    assert.equal(r.headers['x-resp'], 'yes');
    assert.equal(r.headers['x-rc-resp'], 'rc');
    assert.equal(r.headers['x-upstream'], undefined);
  });

  void it('returns 404 NR, 503 UH, 503 UF, 503 NC', async () => {
    assert.equal((await via('http://unknown-host:9080/')).status, 404);
    const uh = await via('http://reviews:9080/empty');
    assert.equal(uh.status, 503);
    assert.equal(uh.body, 'no healthy upstream');
    const uf = await via('http://reviews:9080/dead');
    assert.equal(uf.status, 503);
    assert.equal(uf.body, 'upstream connect error or disconnect/reset before headers. reset reason: connection failure');
    assert.equal((await via('http://reviews:9080/nc')).status, 503);
    const stats = proxy.stats();
    assert.ok(stats['cluster.dead.upstream_cx_connect_fail'] >= 1);
    assert.ok(stats['cluster.empty.upstream_cx_none_healthy'] >= 1);
  });

  void it('tunnels CONNECT host:port through the passthrough cluster', async () => {
    const out = await raw(ADDR, 15001, `CONNECT 127.0.0.1:${ports.passthru} HTTP/1.1\r\nHost: 127.0.0.1:${ports.passthru}\r\n\r\nGET /tunnel HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.match(out, /^HTTP\/1\.1 200 Connection Established\r\n\r\nHTTP\/1\.1 200 OK/);
    assert.match(out, /"url":"\/tunnel"/);
  });

  void it('passes unknown ports through PassthroughCluster, and 404s without it', async () => {
    const r = await via(`http://127.0.0.1:${ports.passthru}/p`);
    assert.equal(r.json().name, 'passthru');
    assert.equal(r.json().url, '/p');
    mustUpdate(proxy, 'cluster', map([edsCluster('outbound|9080||reviews.default.svc.cluster.local')]));
    assert.equal((await via(`http://127.0.0.1:${ports.passthru}/p`)).status, 404);
    mustUpdate(proxy, 'cluster', map([edsCluster('outbound|9080||reviews.default.svc.cluster.local'), passthroughCluster()]));
    assert.equal((await via(`http://127.0.0.1:${ports.passthru}/p`)).status, 200);
  });
});
