// Config updates (NACK keeps the old config), listener updates and removal, the keep-alive race, admin.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { Proxy } from '../../src/proxy/index.js';
import { TYPE } from '../../src/xds/protos.js';
import { HCM, ROUTER, TCP_PROXY, type Obj, close, echoServer, hcm, listen, listener, map, mustUpdate, raw, request, staticCluster, waitFor } from './helpers.js';

const ADDR = '127.0.10.7';

function rc(cluster: string, tag: string): Obj {
  return { name: 'inbound|80||', virtual_hosts: [{ name: 'in', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster, timeout: '0s' } }], response_headers_to_add: [{ header: { key: 'x-config', value: tag } }] }] };
}

void describe('proxy lifecycle', () => {
  let proxy: Proxy;
  let upstream: http.Server;
  let upPort = 0;
  let port = 0;

  before(async () => {
    const e = await echoServer('app');
    upstream = e.server;
    upPort = e.port;
    proxy = new Proxy({ nodeId: 'sidecar~127.0.10.7~app.default~default.svc.cluster.local', address: ADDR, adminPort: 0, listenerDrainMs: 2000 });
    await proxy.start();
  });

  after(async () => {
    await proxy.close();
    await close(upstream);
  });

  const admin = (path: string): Promise<Awaited<ReturnType<typeof request>>> => request({ host: ADDR, port: proxy.adminPort!, path });

  void it('reports not ready until listeners and clusters are applied', async () => {
    assert.equal((await admin('/ready')).status, 503);
    mustUpdate(proxy, 'cluster', map([staticCluster('inbound|80||', [['127.0.0.1', upPort]])]));
    assert.equal((await admin('/ready')).status, 503);
    mustUpdate(proxy, 'listener', map([listener('in_80', ADDR, 0, hcm('inbound_80', { inline: rc('inbound|80||', 'v1') }))]));
    await waitFor(async () => (await admin('/ready')).status === 200, 'ready');
    assert.equal((await admin('/ready')).body, 'LIVE\n');
    port = proxy.listenerPort('in_80')!;
    const r = await request({ host: ADDR, port, path: '/' });
    assert.equal(r.headers['x-config'], 'v1');
  });

  void it('rejects invalid pushes with a message naming the field, and keeps serving the old config', async () => {
    const bad: [string, Map<string, object>, RegExp][] = [
      [TYPE.listener, map([listener('in_80', ADDR, 0, { ...hcm('inbound_80', { inline: rc('inbound|80||', 'bad') }), http_filters: [{ name: 'x.unknown', typed_config: { '@type': 'type.googleapis.com/x.Unknown' } }, { name: 'r', typed_config: { '@type': ROUTER } }] })]), /unsupported HTTP filter x.unknown/],
      [TYPE.listener, map([listener('in_80', ADDR, 0, { ...hcm('inbound_80', { inline: rc('inbound|80||', 'bad') }), http_filters: [] })]), /router/],
      [TYPE.listener, map([listener('in_80', ADDR, 0, hcm('inbound_80', { inline: { name: 'x', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { safe_regex: { regex: '(' } }, route: { cluster: 'c' } }] }] } }))]), /virtual_hosts\[0\]\.routes\[0\]\.match\.safe_regex\.regex: invalid regex/],
      [TYPE.listener, map([listener('a', ADDR, 9, hcm('a', { rds: 'x' })), listener('b', ADDR, 9, hcm('b', { rds: 'x' }))]), /already used by listener a/],
      [TYPE.cluster, map([staticCluster('c', [['127.0.0.1', 1]], { lb_policy: 'FANCY' })]), /lb_policy/],
      [TYPE.cluster, map([{ name: 'c', type: 'STATIC', load_assignment: { endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '1.2.3.4' } } } }] }] } }]), /port_value/],
      [TYPE.route, map([{ name: 'r', virtual_hosts: [{ name: 'a', domains: ['x'], routes: [] }, { name: 'b', domains: ['x'], routes: [] }] }]), /already used/],
      [TYPE.endpoint, map([{ cluster_name: 'e', endpoints: [{ lb_endpoints: [{ endpoint: {} }] }] }], 'cluster_name'), /socket_address/],
    ];
    for (const [type, resources, want] of bad) {
      const r = proxy.update(type, resources);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.error, want);
    }
    const r = await request({ host: ADDR, port, path: '/' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-config'], 'v1');
  });

  void it('accepts an unknown filter marked is_optional', () => {
    const cfg = { ...hcm('inbound_80', { inline: rc('inbound|80||', 'v1') }), http_filters: [{ name: 'x.unknown', is_optional: true, typed_config: { '@type': 'type.googleapis.com/x.Unknown' } }, { name: 'r', typed_config: { '@type': ROUTER } }] };
    assert.deepEqual(proxy.update(TYPE.listener, map([listener('in_80', ADDR, 0, cfg)])), { ok: true });
  });

  void it('updates a listener in place: an open connection keeps working and sees the new config', async () => {
    const sock = net.connect(port, ADDR);
    let got = '';
    sock.on('data', (c: Buffer) => (got += c.toString('latin1')));
    sock.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await waitFor(() => /x-config: v1/.test(got) && got.endsWith('0\r\n\r\n'), 'first response');
    mustUpdate(proxy, 'listener', map([listener('in_80', ADDR, 0, hcm('inbound_80', { inline: rc('inbound|80||', 'v2') }))]));
    assert.equal(proxy.listenerPort('in_80'), port);
    got = '';
    sock.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await waitFor(() => /x-config: v2/.test(got) && got.endsWith('0\r\n\r\n'), 'second response on the same connection');
    sock.destroy();
  });

  void it('drains a removed listener: in-flight requests finish, new connections are refused', async () => {
    const slow = http.createServer((_req, res) => setTimeout(() => res.end('slow done'), 300));
    const slowPort = await listen(slow);
    mustUpdate(proxy, 'cluster', map([staticCluster('inbound|80||', [['127.0.0.1', upPort]]), staticCluster('slow', [['127.0.0.1', slowPort]])]));
    mustUpdate(proxy, 'listener', map([listener('in_80', ADDR, 0, hcm('inbound_80', { inline: rc('inbound|80||', 'v2') })), listener('slow', ADDR, 0, hcm('slow', { inline: rc('slow', 's') }))]));
    await proxy.settled();
    const sp = proxy.listenerPort('slow')!;
    const inflight = request({ host: ADDR, port: sp, path: '/', agent: false });
    await waitFor(() => proxy.stats()['cluster.slow.upstream_rq_active'] === 1, 'request in flight');
    mustUpdate(proxy, 'listener', map([listener('in_80', ADDR, 0, hcm('inbound_80', { inline: rc('inbound|80||', 'v2') }))]));
    const r = await inflight;
    assert.equal(r.body, 'slow done');
    await assert.rejects(request({ host: ADDR, port: sp, path: '/', agent: false }), /ECONNREFUSED/);
    await close(slow);
  });

  void it('survives the keep-alive race: upstream closing idle and reused connections never shows as 503', async () => {
    // A bare upstream that closes each connection after 3 responses (no Connection: close) or after
    // 1 s idle: exactly what races a proxy reusing pooled connections.
    let served = 0;
    const flaky = net.createServer((sock) => {
      let n = 0;
      let buf = '';
      sock.setTimeout(1000, () => sock.destroy());
      sock.on('error', () => {});
      sock.on('data', (c: Buffer) => {
        buf += c.toString('latin1');
        let i;
        while ((i = buf.indexOf('\r\n\r\n')) >= 0) {
          buf = buf.slice(i + 4);
          n++;
          served++;
          sock.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
          if (n === 3) setImmediate(() => sock.destroy());
        }
      });
    });
    const flakyPort = await listen(flaky);
    mustUpdate(proxy, 'cluster', map([staticCluster('inbound|80||', [['127.0.0.1', flakyPort]])]));
    const statuses: Record<number, number> = {};
    for (let burst = 0; burst < 6; burst++) {
      const rs = await Promise.all(Array.from({ length: 30 }, () => request({ host: ADDR, port, path: '/' }).then((r) => r.status, () => 0)));
      for (const s of rs) statuses[s] = (statuses[s] ?? 0) + 1;
      await new Promise((r) => setTimeout(r, burst % 2 === 0 ? 990 : 50));
    }
    assert.deepEqual(statuses, { 200: 180 });
    assert.ok(served >= 180);
    assert.ok(proxy.stats()['cluster.inbound|80||.upstream_rq_retry'] > 0, 'the race was exercised');
    await close(flaky);
    mustUpdate(proxy, 'cluster', map([staticCluster('inbound|80||', [['127.0.0.1', upPort]])]));
  });

  void it('proxies raw TCP on a tcp_proxy listener', async () => {
    const echo = net.createServer((sock) => sock.pipe(sock));
    const echoPort = await listen(echo);
    mustUpdate(proxy, 'cluster', map([staticCluster('inbound|80||', [['127.0.0.1', upPort]]), staticCluster('tcp-echo', [['127.0.0.1', echoPort]])]));
    mustUpdate(proxy, 'listener', map([
      listener('in_80', ADDR, 0, hcm('inbound_80', { inline: rc('inbound|80||', 'v2') })),
      { name: 'tcp', address: { socket_address: { address: ADDR, port_value: 0 } }, filter_chains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TCP_PROXY, stat_prefix: 'tcp', cluster: 'tcp-echo' } }] }] },
    ]));
    await proxy.settled();
    const out = await raw(ADDR, proxy.listenerPort('tcp')!, 'any bytes \x00\x01', 300);
    assert.equal(out, 'any bytes \x00\x01');
    assert.ok(proxy.stats()['cluster.tcp-echo.upstream_cx_total'] >= 1);
    await close(echo);
  });

  void it('serves admin /stats, /stats?format=json, /clusters, /config_dump, /server_info', async () => {
    await request({ host: ADDR, port, path: '/' });
    const stats = (await admin('/stats')).body;
    assert.match(stats, /^cluster\.inbound\|80\|\|\.upstream_rq_total: \d+$/m);
    assert.match(stats, /^cluster\.inbound\|80\|\|\.upstream_rq_200: \d+$/m);
    assert.match(stats, /^cluster\.inbound\|80\|\|\.upstream_cx_active: \d+$/m);
    assert.match(stats, /^http\.inbound_80\.downstream_rq_2xx: \d+$/m);
    assert.match(stats, /^listener\.127\.0\.10\.7_0\.downstream_cx_total: \d+$/m);
    const json = (await admin('/stats?format=json')).json<{ stats: { name: string; value: number }[] }>();
    assert.ok(json.stats.some((s) => s.name === 'cluster.inbound|80||.upstream_rq_2xx' && s.value > 0));
    const clusters = (await admin('/clusters')).body;
    assert.match(clusters, new RegExp(`^inbound\\|80\\|\\|::127\\.0\\.0\\.1:${upPort}::health_flags::healthy$`, 'm'));
    assert.match(clusters, new RegExp(`^inbound\\|80\\|\\|::127\\.0\\.0\\.1:${upPort}::rq_total::\\d+$`, 'm'));
    const dump = (await admin('/config_dump')).json<{ configs: { '@type': string; dynamic_listeners?: { name: string; active_state: { listener: { '@type': string } } }[] }[] }>();
    const types = dump.configs.map((c) => c['@type'].split('.').pop());
    assert.deepEqual(types.slice(0, 5), ['BootstrapConfigDump', 'ClustersConfigDump', 'ListenersConfigDump', 'RoutesConfigDump', 'EndpointsConfigDump']);
    const ld = dump.configs[2].dynamic_listeners!;
    assert.equal(ld[0].name, 'in_80');
    assert.equal(ld[0].active_state.listener['@type'], TYPE.listener);
    const info = (await admin('/server_info')).json<{ state: string; node: { id: string } }>();
    assert.equal(info.state, 'LIVE');
    assert.equal(info.node.id, 'sidecar~127.0.10.7~app.default~default.svc.cluster.local');
    assert.equal(HCM.endsWith('HttpConnectionManager'), true);
    assert.match(await raw(ADDR, proxy.adminPort!, 'GET /nope HTTP/1.0\r\n\r\n'), /^HTTP\/1\.1 404/);
  });
  void it('is not ready while an EDS cluster or an RDS route configuration is still missing (warming)', async () => {
    mustUpdate(proxy, 'cluster', map([staticCluster('inbound|80||', [['127.0.0.1', upPort]]), { name: 'eds', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } } }]));
    assert.equal((await admin('/ready')).status, 503);
    assert.match(String((await admin('/server_info')).json().not_ready_reason), /waiting for endpoints: eds/);
    mustUpdate(proxy, 'endpoint', map([{ cluster_name: 'eds', endpoints: [] }], 'cluster_name'));
    mustUpdate(proxy, 'listener', map([listener('in_80', ADDR, 0, hcm('inbound_80', { inline: rc('inbound|80||', 'v2') })), listener('rds', ADDR, 0, hcm('rds', { rds: 'later' }))]));
    await proxy.settled();
    assert.equal((await admin('/ready')).status, 503);
    assert.match(String((await admin('/server_info')).json().not_ready_reason), /route configurations: later/);
    mustUpdate(proxy, 'route', map([{ name: 'later', virtual_hosts: [] }]));
    assert.equal((await admin('/ready')).status, 200);
  });
});
