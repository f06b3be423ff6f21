// Resources exactly as the xDS client hands them over: packed to protobuf Any and unpacked again
// (wrappers as {value}, int64 as strings, zero values omitted, Any as {'@type'}).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import type { Proxy } from '../../src/proxy/index.js';
import { TYPE, packAny, unpackAny } from '../../src/xds/protos.js';
import { cla, close, echoServer, edsCluster, map, outboundListeners, passthroughCluster, request, startProxy } from './helpers.js';

const ADDR = '127.0.10.9';

function roundTrip(type: string, resources: Map<string, object>): Map<string, object> {
  return new Map([...resources].map(([k, v]) => [k, unpackAny<object>(packAny(type, v))]));
}

void describe('proxy with protobuf round-tripped resources', () => {
  let proxy: Proxy;
  const servers: http.Server[] = [];
  const ports: number[] = [];

  before(async () => {
    for (const n of ['v1', 'v2']) {
      const e = await echoServer(n);
      servers.push(e.server);
      ports.push(e.port);
    }
    proxy = await startProxy(ADDR);
    const apply = (type: string, m: Map<string, object>): void => {
      const r = proxy.update(type, roundTrip(type, m));
      assert.deepEqual(r, { ok: true });
    };
    apply(TYPE.cluster, map([edsCluster('v1'), edsCluster('v2', { lb_policy: 'LEAST_REQUEST', http2_protocol_options: undefined }), passthroughCluster()]));
    apply(TYPE.endpoint, map([cla('v1', [['127.0.0.1', ports[0], 3]]), cla('v2', [['127.0.0.1', ports[1]]])], 'cluster_name'));
    apply(TYPE.listener, outboundListeners(ADDR, [9080]));
    apply(TYPE.route, map([{
      name: '9080',
      virtual_hosts: [{
        name: 'svc', domains: ['svc', 'svc:9080'],
        routes: [
          { match: { prefix: '/ci', case_sensitive: { value: false }, headers: [{ name: 'x-v', string_match: { exact: '2' }, invert_match: false }] }, route: { cluster: 'v2', timeout: { seconds: 0 } } },
          { match: { prefix: '/split' }, route: { weighted_clusters: { clusters: [{ name: 'v1', weight: { value: 0 } }, { name: 'v2', weight: { value: 100 } }] }, timeout: { seconds: 5 }, retry_policy: { retry_on: 'connect-failure', num_retries: { value: 2 } } } },
          { match: { prefix: '/direct' }, direct_response: { status: 200, body: { inline_bytes: Buffer.from('bytes!').toString('base64') } } },
          { match: { prefix: '/' }, route: { cluster: 'v1', timeout: { seconds: 0 } }, request_headers_to_add: [{ header: { key: 'x-a', value: '1' }, append: { value: false } }] },
        ],
      }],
    }]));
  });

  after(async () => {
    await proxy.close();
    for (const s of servers) await close(s);
  });

  void it('serves the unpacked configuration like the plain one', async () => {
    const r = await request({ host: ADDR, port: 15001, path: 'http://svc:9080/x', headers: { 'x-a': '0' } });
    assert.equal(r.json().name, 'v1');
    assert.equal(r.json<{ headers: Record<string, string> }>().headers['x-a'], '1');
    assert.equal((await request({ host: ADDR, port: 15001, path: 'http://svc:9080/CI', headers: { 'x-v': '2' } })).json().name, 'v2');
    assert.equal((await request({ host: ADDR, port: 15001, path: 'http://svc:9080/split' })).json().name, 'v2');
    assert.equal((await request({ host: ADDR, port: 15001, path: 'http://svc:9080/direct' })).body, 'bytes!');
    assert.equal((await request({ host: ADDR, port: 15001, path: `http://127.0.0.1:${ports[1]}/pt` })).json().name, 'v2');
  });
});
